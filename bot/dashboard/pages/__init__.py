"""One module per dashboard page; each exposes `routes`, an aiohttp `RouteTableDef`."""

from __future__ import annotations

from aiohttp import web

from bot.dashboard.pages import (
    content,
    conversations,
    knowledge,
    login,
    moderation,
    overview,
    rules,
    settings,
    tickets,
)

PAGE_ROUTES: list[web.RouteTableDef] = [
    login.routes,
    overview.routes,
    conversations.routes,
    knowledge.routes,
    rules.routes,
    content.routes,
    moderation.routes,
    tickets.routes,
    settings.routes,
]
