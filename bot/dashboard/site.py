"""The dashboard as one aiohttp application: the shared middleware and state from `web`, the pages' routes."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.dashboard.pages import PAGE_ROUTES
from bot.dashboard.passwords import owner_password_hash
from bot.dashboard.security import (
    SECURE_COOKIES_KEY,
    SESSION_KEY,
    LoginLimiter,
    SessionStore,
    require_session,
    security_headers,
)
from bot.dashboard.services import DashboardServices
from bot.dashboard.settings import PASSWORD, DashboardSection
from bot.dashboard.web import (
    LIMITER_KEY,
    PASSWORD_KEY,
    SERVICES_KEY,
    SETTINGS_KEY,
    TEMPLATES_KEY,
    UPLOADS_KEY,
    favicon,
    healthz,
    static_style,
    template_environment,
)


def create_app(services: DashboardServices, settings: DashboardSection, uploads: Path) -> web.Application:
    """The dashboard as an aiohttp application (run it with `DashboardServer` or a test client)."""
    secret = services.app.config.secrets.value(PASSWORD.key)
    # A password from the secrets is hashed once now; without one, logins read the stored hash each time
    # (so `set-password` takes effect without a restart).
    password_hash = owner_password_hash(services.store, secret.get_secret_value()) if secret else None
    app = web.Application(
        middlewares=[security_headers, require_session],
        client_max_size=settings.max_upload_bytes + 64 * 1024,
    )
    app[SERVICES_KEY] = services
    app[SETTINGS_KEY] = settings
    app[TEMPLATES_KEY] = template_environment()
    app[SESSION_KEY] = SessionStore(settings.session_hours * 3600)
    app[SECURE_COOKIES_KEY] = settings.secure_cookies
    app[LIMITER_KEY] = LoginLimiter(settings.login_attempts, settings.login_window_s)
    app[UPLOADS_KEY] = uploads
    app[PASSWORD_KEY] = [password_hash] if password_hash else []
    app.router.add_get("/static/style.css", static_style)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/favicon.ico", favicon)
    for table in PAGE_ROUTES:
        app.add_routes(table)
    return app
