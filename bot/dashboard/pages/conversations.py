"""Conversations: search every stored message, read one member's history or one chat, export or delete a
member's data (through the same hooks as the member's own /forgetme)."""

from __future__ import annotations

import json

from aiohttp import web

from bot.dashboard import queries
from bot.dashboard.web import SERVICES_KEY, SETTINGS_KEY, form_text, notify_and_redirect, page_number, path_id, render

routes = web.RouteTableDef()


@routes.get("/conversations")
async def conversations(request: web.Request) -> web.StreamResponse:
    store = request.app[SERVICES_KEY].store
    size = request.app[SETTINGS_KEY].page_size
    query = request.query.get("q", "").strip()[:200]
    number = page_number(request)
    if query:
        return render(
            request,
            "conversations.html",
            query=query,
            results=queries.search_messages(store, query, number, size),
            members=None,
            chats=None,
        )
    return render(
        request,
        "conversations.html",
        query="",
        results=None,
        members=queries.recent_members(store, number, size),
        chats=queries.recent_conversations(store, 1, 20),
    )


@routes.get("/conversations/{id}")
async def conversation(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES_KEY]
    conversation_id = path_id(request)
    rows = list(services.store.db.query("select * from conversations where id = ?", [conversation_id]))
    if not rows:
        raise web.HTTPNotFound(text="No such conversation.")
    page = queries.conversation_messages(
        services.store, conversation_id, page_number(request), request.app[SETTINGS_KEY].page_size
    )
    return render(request, "conversation.html", chat=rows[0], page=page)


@routes.get("/members/{id}")
async def member(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES_KEY]
    found = services.member(path_id(request))
    if found is None:
        raise web.HTTPNotFound(text="No such member (their data may have been deleted).")
    page = queries.member_messages(services.store, found.id, page_number(request), request.app[SETTINGS_KEY].page_size)
    return render(request, "member.html", member=found, page=page)


@routes.post("/members/{id}/export")
async def export_member(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES_KEY]
    found = services.member(path_id(request))
    if found is None:
        raise web.HTTPNotFound(text="No such member.")
    data = services.export_member(found)
    services.record(
        "member.export", f"{found.platform}:{found.platform_user_id}", None, {"messages": len(data["messages"])}
    )
    return web.Response(
        text=json.dumps(data, ensure_ascii=False, indent=2, default=str),
        content_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="member-{found.id}.json"'},
    )


@routes.post("/members/{id}/delete")
async def delete_member(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES_KEY]
    found = services.member(path_id(request))
    if found is None:
        raise web.HTTPNotFound(text="No such member.")
    if await form_text(request, "confirm") != "delete":
        raise notify_and_redirect(request, f"/members/{found.id}", "Type 'delete' to confirm.", "error")
    removed = services.forget_member(found)
    raise notify_and_redirect(request, "/conversations", f"Deleted {found.label}'s data ({removed} messages).")
