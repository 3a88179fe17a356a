"""Sessions, CSRF tokens, the login rate limit and the middlewares that enforce them on every request.

A session is a random token in an HttpOnly, SameSite=Strict cookie, kept in memory only (a restart logs the
owner out). Every POST must carry the session's CSRF token in a `csrf_token` form field (the login form uses
a double-submit cookie instead, as there is no session yet). Failed logins are counted per client address
in a sliding window.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

SESSION_COOKIE = "socialbot_session"
LOGIN_CSRF_COOKIE = "socialbot_login_csrf"
CSRF_FIELD = "csrf_token"
# Paths reachable without a session.
PUBLIC_PATHS = frozenset({"/login", "/static/style.css", "/healthz", "/favicon.ico"})
SECURITY_HEADERS = {
    # No script at all is served; forms post only to this origin; no framing.
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Session:
    """One logged-in browser: its CSRF token and when it lapses unless used."""

    token: str
    csrf_token: str
    expires_at: float
    # Messages for the next page shown (after a form's redirect), then cleared.
    notices: list[tuple[str, str]] = field(default_factory=list)

    def notify(self, text: str, level: str = "ok") -> None:
        self.notices.append((level, text))

    def take_notices(self) -> list[tuple[str, str]]:
        notices, self.notices = self.notices, []
        return notices


class SessionStore:
    """In-memory sessions with a sliding expiry."""

    def __init__(self, lifetime_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.lifetime_s = lifetime_s
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self) -> Session:
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), self._clock() + self.lifetime_s)
        with self._lock:
            self._drop_expired()
            self._sessions[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if session.expires_at <= self._clock():
                del self._sessions[token]
                return None
            session.expires_at = self._clock() + self.lifetime_s
            return session

    def end(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def _drop_expired(self) -> None:
        now = self._clock()
        for token in [token for token, session in self._sessions.items() if session.expires_at <= now]:
            del self._sessions[token]


class LoginLimiter:
    """At most `attempts` failed logins per client address in `window_s`; then logins wait."""

    def __init__(self, attempts: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> float:
        """Seconds until `address` may try again (0: now)."""
        with self._lock:
            failures = self._recent(address)
            if len(failures) < self.attempts:
                return 0.0
            return max(0.0, failures[0] + self.window_s - self._clock())

    def failed(self, address: str) -> None:
        with self._lock:
            self._recent(address).append(self._clock())

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)

    def _recent(self, address: str) -> deque[float]:
        failures = self._failures.setdefault(address, deque())
        cutoff = self._clock() - self.window_s
        while failures and failures[0] <= cutoff:
            failures.popleft()
        return failures


def tokens_match(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


SESSION_KEY: web.AppKey[SessionStore] = web.AppKey("sessions", SessionStore)
SECURE_COOKIES_KEY: web.AppKey[bool] = web.AppKey("secure_cookies", bool)


def set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.app[SECURE_COOKIES_KEY],
    )


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        raise
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@web.middleware
async def require_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every page but the login needs a live session; every POST needs that session's CSRF token."""
    if request.path in PUBLIC_PATHS:
        return await handler(request)
    session = request.app[SESSION_KEY].get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        if request.method == "GET":
            raise web.HTTPSeeOther("/login")
        raise web.HTTPUnauthorized(text="Log in first.")
    if request.method not in ("GET", "HEAD"):
        form = await request.post()
        if not tokens_match(_field(form.get(CSRF_FIELD)), session.csrf_token):
            raise web.HTTPForbidden(text="The form's security token is missing or stale: reload the page and retry.")
    request["session"] = session
    return await handler(request)


def _field(value: object) -> str | None:
    return value if isinstance(value, str) else None
