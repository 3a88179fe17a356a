"""The aiohttp application: templates, security middlewares, and one route table per page."""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup

from bot.dashboard.security import (
    CSRF_FIELD,
    LoginLimiter,
    Session,
)
from bot.dashboard.services import DashboardServices
from bot.dashboard.settings import DashboardSection

log = logging.getLogger(__name__)

SERVICES_KEY: web.AppKey[DashboardServices] = web.AppKey("services", DashboardServices)
SETTINGS_KEY: web.AppKey[DashboardSection] = web.AppKey("settings", DashboardSection)
TEMPLATES_KEY: web.AppKey[jinja2.Environment] = web.AppKey("templates", jinja2.Environment)
LIMITER_KEY: web.AppKey[LoginLimiter] = web.AppKey("login_limiter", LoginLimiter)
UPLOADS_KEY: web.AppKey[Path] = web.AppKey("uploads", Path)
PASSWORD_KEY: web.AppKey[list[str]] = web.AppKey("password_hash", list)  # [hash] or [] when none is set

NAVIGATION = (
    ("/", "Overview"),
    ("/conversations", "Conversations"),
    ("/kb", "Knowledge base"),
    ("/rules", "Rules"),
    ("/content", "Drafts & schedule"),
    ("/moderation", "Moderation"),
    ("/tickets", "Tickets"),
    ("/settings", "Settings"),
)


def template_environment() -> jinja2.Environment:
    """Templates shipped in the package; autoescape on for everything, so member text is always text."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("bot.dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["short_time"] = lambda value: str(value or "")[:16].replace("T", " ")
    return environment


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    session: Session | None = request.get("session")
    environment = request.app[TEMPLATES_KEY]
    token = session.csrf_token if session else context.pop("login_csrf", "")
    html = environment.get_template(template).render(
        navigation=NAVIGATION,
        path=request.path,
        csrf_input=Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token),
        notices=session.take_notices() if session else [],
        logged_in=session is not None,
        **context,
    )
    return web.Response(text=html, content_type="text/html", charset="utf-8", status=status)


def notify_and_redirect(request: web.Request, location: str, text: str, level: str = "ok") -> web.HTTPSeeOther:
    """After a form: a notice on the next page, and a redirect so a reload does not repeat the action."""
    session: Session | None = request.get("session")
    if session is not None:
        session.notify(text, level)
    return web.HTTPSeeOther(location)


def page_number(request: web.Request) -> int:
    raw = request.query.get("page", "1")
    return max(1, min(int(raw), 100_000)) if raw.isdigit() else 1


def path_id(request: web.Request, name: str = "id") -> int:
    raw = request.match_info.get(name, "")
    if not raw.isdigit():
        raise web.HTTPNotFound()
    return int(raw)


async def form_text(request: web.Request, name: str, limit: int = 20_000) -> str:
    value = (await request.post()).get(name, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


async def static_style(request: web.Request) -> web.StreamResponse:
    css = resources.files("bot.dashboard").joinpath("static/style.css").read_text(encoding="utf-8")
    return web.Response(text=css, content_type="text/css", headers={"Cache-Control": "max-age=3600"})


async def favicon(request: web.Request) -> web.StreamResponse:
    return web.Response(status=204)


async def healthz(request: web.Request) -> web.StreamResponse:
    return web.json_response({"ok": True})
