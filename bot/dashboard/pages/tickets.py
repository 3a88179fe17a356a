"""Tickets: read the conversation behind a request for a person, reply as staff (delivered to the member
on their platform through the bot), and close it (the member is told, as with /ticket close)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from bot.dashboard import queries
from bot.dashboard.services import ACTOR
from bot.dashboard.web import SERVICES_KEY, form_text, notify_and_redirect, page_number, path_id, render
from bot.kb import KbError

if TYPE_CHECKING:
    from bot.kb.feature import KbFeature
    from bot.kb.tickets import Ticket

routes = web.RouteTableDef()
MAX_REPLY_CHARS = 4000


def _feature(request: web.Request) -> KbFeature:
    feature = request.app[SERVICES_KEY].kb
    if feature is None or feature.desk is None:
        raise web.HTTPNotFound(text="The knowledge base feature (which keeps tickets) is not installed.")
    return feature


def _ticket(request: web.Request) -> Ticket:
    feature = _feature(request)
    assert feature.desk is not None
    ticket = feature.desk.get(path_id(request))
    if ticket is None:
        raise web.HTTPNotFound(text="No such ticket.")
    return ticket


@routes.get("/tickets")
async def tickets_page(request: web.Request) -> web.StreamResponse:
    feature = _feature(request)
    assert feature.desk is not None
    show_closed = request.query.get("closed") == "1"
    return render(
        request,
        "tickets.html",
        tickets=feature.desk.tickets(include_closed=show_closed, limit=100),
        show_closed=show_closed,
    )


@routes.get("/tickets/{id}")
async def ticket_page(request: web.Request) -> web.StreamResponse:
    ticket = _ticket(request)
    page = queries.conversation_messages(
        request.app[SERVICES_KEY].store, ticket.conversation_id, page_number(request), 50
    )
    return render(request, "ticket.html", ticket=ticket, page=page)


@routes.post("/tickets/{id}/reply")
async def reply(request: web.Request) -> web.StreamResponse:
    ticket = _ticket(request)
    text = await form_text(request, "text", limit=MAX_REPLY_CHARS)
    if not text:
        raise notify_and_redirect(request, f"/tickets/{ticket.id}", "Write a reply first.", "error")
    services = request.app[SERVICES_KEY]
    result = await services.send_staff_reply(ticket.conversation_id, text)
    services.record(
        "ticket.reply", f"ticket:{ticket.id}", None, {"message_id": result.message_id, "delivered": result.delivered}
    )
    if result.delivered:
        raise notify_and_redirect(
            request, f"/tickets/{ticket.id}", f"Reply delivered to {ticket.user_name or 'the member'}."
        )
    raise notify_and_redirect(
        request, f"/tickets/{ticket.id}", f"Reply stored, not delivered yet: {result.error}.", "warn"
    )


@routes.post("/tickets/{id}/close")
async def close(request: web.Request) -> web.StreamResponse:
    feature = _feature(request)
    ticket = _ticket(request)
    assert feature.desk is not None and feature.handoff is not None
    try:
        closed = feature.desk.close(ticket.id, ACTOR)
    except KbError as exc:
        raise notify_and_redirect(request, f"/tickets/{ticket.id}", f"Cannot close it: {exc}.", "error") from None
    services = request.app[SERVICES_KEY]
    notice = feature.handoff.prompts.render("handoff_closed", ticket_id=closed.id)
    result = await services.send_staff_reply(closed.conversation_id, notice)
    services.record("ticket.close", f"ticket:{closed.id}", {"status": ticket.status}, {"status": closed.status})
    told = "the member has been told" if result.delivered else "the member is told when the bot connects"
    raise notify_and_redirect(request, "/tickets", f"Ticket #{closed.id} closed; {told}.")
