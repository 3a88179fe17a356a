"""The overview: is the bot healthy, what happened today, recent changes, and room for insight panels."""

from __future__ import annotations

import os

from aiohttp import web

from bot import audit
from bot.dashboard import queries
from bot.dashboard.panels import OVERVIEW_PANELS
from bot.dashboard.services import DashboardServices
from bot.dashboard.web import SERVICES_KEY, render

routes = web.RouteTableDef()


def health(services: DashboardServices, today: dict[str, int]) -> list[tuple[str, str, bool]]:
    """(what, state, healthy) rows."""
    app = services.app
    rows = [
        (
            "Model",
            f"{app.engine.model_name} ({'loaded' if services.engine_ready else 'not loaded here'})",
            services.engine_ready,
        ),
        ("Connected platforms", ", ".join(sorted(app.senders)) or "none in this process", bool(app.senders)),
    ]
    path = app.store.path
    size = os.path.getsize(path) if path != ":memory:" and os.path.exists(path) else 0
    rows.append(("Database", f"{path} ({size / 1_000_000:.1f} MB)", True))
    owed = today["replies_owed"]
    rows.append(("Replies owed to platforms", str(owed), owed == 0))
    if services.kb is not None and services.kb.kb is not None:
        documents = len(services.kb.kb.documents())
        rows.append(("Knowledge base", f"{documents} documents", documents > 0))
    return rows


@routes.get("/")
async def overview(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES_KEY]
    store = services.store
    panels = [(panel.title, panel.render(store)) for panel in OVERVIEW_PANELS]
    today = queries.today_numbers(store)
    return render(
        request,
        "overview.html",
        health=health(services, today),
        today=today,
        totals=queries.totals(store),
        panels=panels,
        changes=audit.recent(store, limit=10),
    )
