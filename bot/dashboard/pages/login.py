"""Logging in and out: one owner password, a double-submit CSRF token, a per-address attempt limit."""

from __future__ import annotations

import asyncio
import logging
import secrets

from aiohttp import web

from bot.dashboard.passwords import PASSWORD_STATE_KEY, verify_password
from bot.dashboard.security import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_KEY,
    set_cookie,
    tokens_match,
)
from bot.dashboard.web import LIMITER_KEY, PASSWORD_KEY, SERVICES_KEY, form_text, render

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


def _login_page(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    # Keep the browser's token if it has one: a second tab (or a redirected favicon request) must not
    # invalidate the form already shown.
    current = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    token = current if len(current) == 43 and current.replace("-", "").replace("_", "").isalnum() else ""
    token = token or secrets.token_urlsafe(32)
    response = render(request, "login.html", status=status, error=error, login_csrf=token)
    set_cookie(response, request, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@routes.get("/login")
async def login_form(request: web.Request) -> web.StreamResponse:
    if request.app[SESSION_KEY].get(request.cookies.get(SESSION_COOKIE)) is not None:
        raise web.HTTPSeeOther("/")
    return _login_page(request)


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    address = request.remote or "unknown"
    limiter = request.app[LIMITER_KEY]
    wait = limiter.retry_after(address)
    if wait > 0:
        log.warning("dashboard: login refused for %s (too many failed attempts)", address)
        return _login_page(request, f"Too many failed attempts. Try again in {int(wait) + 1} seconds.", status=429)
    form = await request.post()
    given = form.get(CSRF_FIELD)
    if not tokens_match(given if isinstance(given, str) else None, request.cookies.get(LOGIN_CSRF_COOKIE, "")):
        return _login_page(request, "The form expired. Please try again.", status=403)
    services = request.app[SERVICES_KEY]
    known = request.app[PASSWORD_KEY]
    stored_hash = known[0] if known else services.store.get_state(PASSWORD_STATE_KEY)
    if not stored_hash:
        return _login_page(
            request, "No owner password is set. Run `socialbot dashboard set-password` on the server.", status=403
        )
    password = await form_text(request, "password", limit=2048)
    if not await asyncio.to_thread(verify_password, password, stored_hash):
        limiter.failed(address)
        log.warning("dashboard: failed login from %s", address)
        return _login_page(request, "Wrong password.", status=401)
    limiter.succeeded(address)
    session = request.app[SESSION_KEY].create()
    services.record("login", address)
    response = web.HTTPSeeOther("/")
    set_cookie(response, request, SESSION_COOKIE, session.token, max_age=int(request.app[SESSION_KEY].lifetime_s))
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/")
    raise response


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    request.app[SESSION_KEY].end(request.cookies.get(SESSION_COOKIE))
    request.app[SERVICES_KEY].record("logout", request.remote or "unknown")
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response
