"""Auto-reply rules: list, add (the same syntax as `/rules add`), enable/disable, delete, and test a message."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.dashboard.services import ACTOR
from bot.dashboard.web import SERVICES_KEY, form_text, notify_and_redirect, path_id, render
from bot.messages import Author, ConversationKey, IncomingMessage
from bot.rules.commands import spec_to_rule
from bot.rules.model import RuleError
from bot.rules.syntax import parse_rule_spec

if TYPE_CHECKING:
    from bot.rules.feature import RulesFeature

routes = web.RouteTableDef()


def _feature(request: web.Request) -> RulesFeature:
    feature = request.app[SERVICES_KEY].rules
    if feature is None or feature.repository is None or feature.replier is None:
        raise web.HTTPNotFound(text="The rules feature is not installed in this bot.")
    return feature


def _page(request: web.Request, test: dict[str, Any] | None = None) -> web.Response:
    feature = _feature(request)
    assert feature.repository is not None
    return render(request, "rules.html", rules=feature.repository.all(), test=test)


@routes.get("/rules")
async def rules_page(request: web.Request) -> web.StreamResponse:
    return _page(request)


@routes.post("/rules/add")
async def add(request: web.Request) -> web.StreamResponse:
    feature = _feature(request)
    assert feature.repository is not None
    spec_text = await form_text(request, "spec", limit=4000)
    platform = await form_text(request, "platform", limit=40)
    chats = tuple(chat.strip() for chat in (await form_text(request, "chats", limit=2000)).split(",") if chat.strip())
    try:
        if chats and not platform:
            raise RuleError("chat ids need a platform (they are per platform)")
        rule = spec_to_rule(parse_rule_spec(spec_text), None, (platform, chats))
        saved = feature.repository.add(rule, ACTOR)
    except RuleError as exc:
        raise notify_and_redirect(request, "/rules", f"Rule not added: {exc}.", "error") from None
    raise notify_and_redirect(request, "/rules", f"Rule #{saved.id} added.")


@routes.post("/rules/{id}/{state:enable|disable}")
async def set_enabled(request: web.Request) -> web.StreamResponse:
    feature = _feature(request)
    assert feature.repository is not None
    enabled = request.match_info["state"] == "enable"
    try:
        rule = feature.repository.set_enabled(path_id(request), enabled, ACTOR)
    except RuleError as exc:
        raise notify_and_redirect(request, "/rules", str(exc), "error") from None
    raise notify_and_redirect(request, "/rules", f"Rule #{rule.id} {'enabled' if enabled else 'disabled'}.")


@routes.post("/rules/{id}/delete")
async def delete(request: web.Request) -> web.StreamResponse:
    feature = _feature(request)
    assert feature.repository is not None
    try:
        rule = feature.repository.delete(path_id(request), ACTOR)
    except RuleError as exc:
        raise notify_and_redirect(request, "/rules", str(exc), "error") from None
    raise notify_and_redirect(request, "/rules", f"Rule #{rule.id} deleted.")


@routes.post("/rules/test")
async def test(request: web.Request) -> web.StreamResponse:
    """Which rule would answer a message in a chat, and what it would say (cooldowns ignored)."""
    feature = _feature(request)
    assert feature.replier is not None
    text = await form_text(request, "text", limit=4000)
    platform = await form_text(request, "platform", limit=40) or "console"
    chat = await form_text(request, "chat", limit=100) or "dashboard"
    if not text:
        raise notify_and_redirect(request, "/rules", "Type a message to test.", "error")
    matches = await asyncio.to_thread(feature.replier.find, text, platform, chat)
    result: dict[str, Any] = {"text": text, "platform": platform, "chat": chat, "matches": matches, "answer": ""}
    if matches:
        message = IncomingMessage(ConversationKey(platform, chat), Author("dashboard", display_name="you"), text)
        planned = feature.replier.plan(matches[0], message, text)
        result["answer"] = planned.text or f"(the model, with prompt '{planned.prompt_name}')"
    return _page(request, result)
