"""Moderation review: automod's actions with reasons and scores (undo, mark wrong) and the gate's recent
non-allow decisions."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aiohttp import web

from bot.automod.modlog import ModlogEntry
from bot.dashboard import queries
from bot.dashboard.services import ACTOR
from bot.dashboard.web import SERVICES_KEY, SETTINGS_KEY, notify_and_redirect, page_number, path_id, render

if TYPE_CHECKING:
    from bot.automod.feature import AutomodFeature

routes = web.RouteTableDef()
GATE_SQL = (
    "select d.id, d.message_id, d.direction, d.decision, d.reasons, d.scores, d.created_at, m.text, m.role "
    "from moderation_decisions d join messages m on m.id = d.message_id where d.decision != 'allow' order by d.id desc"
)


def _feature(request: web.Request) -> AutomodFeature:
    feature = request.app[SERVICES_KEY].automod
    if feature is None:
        raise web.HTTPNotFound(text="The automod feature is not installed in this bot.")
    return feature


@routes.get("/moderation")
async def moderation_page(request: web.Request) -> web.StreamResponse:
    _feature(request)
    store = request.app[SERVICES_KEY].store
    size = request.app[SETTINGS_KEY].page_size
    page = queries.paged(
        store,
        "select a.*, c.platform, c.chat_id from automod_actions a join conversations c on c.id = a.conversation_id "
        "order by a.id desc",
        [],
        page_number(request),
        size,
    )
    entries = [(ModlogEntry.from_row(row), row["platform"], row["chat_id"]) for row in page.rows]
    gate = queries.paged(store, GATE_SQL, [], 1, 30)
    decisions = [
        {**row, "reasons": json.loads(row["reasons"] or "[]"), "scores": json.loads(row["scores"] or "{}")}
        for row in gate.rows
    ]
    return render(request, "moderation.html", page=page, entries=entries, decisions=decisions)


@routes.post("/moderation/{id}/undo")
async def undo(request: web.Request) -> web.StreamResponse:
    feature = _feature(request)
    entry_id = path_id(request)
    before = feature.modlog.get(entry_id)
    if before is None:
        raise web.HTTPNotFound(text="No such automod action.")
    outcome = await feature.undo(entry_id, ACTOR)
    request.app[SERVICES_KEY].record(
        "automod.undo", f"automod:{entry_id}", {"actions": list(before.actions)}, {"result": outcome}
    )
    raise notify_and_redirect(request, "/moderation", outcome)


@routes.post("/moderation/{id}/wrong")
async def mark_wrong(request: web.Request) -> web.StreamResponse:
    feature = _feature(request)
    entry_id = path_id(request)
    entry = feature.modlog.get(entry_id)
    if entry is None:
        raise web.HTTPNotFound(text="No such automod action.")
    feature.modlog.mark_wrong(entry_id, ACTOR)
    undone = await feature.undo(entry_id, ACTOR) if not entry.undone_at else ""
    request.app[SERVICES_KEY].record("automod.wrong", f"automod:{entry_id}", None, {"undo": undone})
    raise notify_and_redirect(
        request, "/moderation", f"#{entry_id} is stored as a false positive for the next training run. {undone}".strip()
    )
