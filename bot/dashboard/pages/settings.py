"""The effective configuration, section by section, with every secret masked."""

from __future__ import annotations

import json

from aiohttp import web

from bot.dashboard.web import SERVICES_KEY, render

routes = web.RouteTableDef()


@routes.get("/settings")
async def settings_page(request: web.Request) -> web.StreamResponse:
    config = request.app[SERVICES_KEY].app.config
    sections = [
        (name, [(key, json.dumps(value, ensure_ascii=False, default=str)) for key, value in values.items()])
        for name, values in config.settings.model_dump().items()
    ]
    secrets = [
        (name, "set (hidden)" if getattr(config.secrets, name) is not None else "not set")
        for name in type(config.secrets).model_fields
    ]
    return render(request, "settings.html", sections=sections, secrets=secrets, source=config.source)
