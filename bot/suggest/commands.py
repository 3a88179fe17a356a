"""`/suggest`, `/drafts` and `/draft` in chat (admins only): ask for drafts and review them."""

from __future__ import annotations

import re

from bot.routing import Command, TurnContext
from bot.suggest import SuggestError
from bot.suggest.drafts import Draft
from bot.suggest.generator import SuggestionService

SUGGEST_USAGE = "Usage: /suggest <topic> [count]"
DRAFT_USAGE = "Usage: /draft edit <id> <text> | /draft approve <id> | /draft reject <id> | /draft show <id>"
_ID = re.compile(r"^#?(\d{1,9})$")


def format_draft(draft: Draft, full: bool = False) -> str:
    text = draft.text if full else " ".join(draft.text.split())
    if not full and len(text) > 200:
        text = text[:199] + "…"
    note = f" (moderation: {', '.join(draft.moderation_reasons)})" if draft.moderation_reasons else ""
    return f"#{draft.id} [{draft.status}]{note}\n{text}"


def split_count(args: str) -> tuple[str, str]:
    """(topic, count) from `/suggest` arguments: a trailing number is the count."""
    words = args.split()
    if len(words) > 1 and words[-1].isdigit():
        return " ".join(words[:-1]), words[-1]
    return args.strip(), ""


class SuggestCommands:
    """The chat side of suggestions and drafts."""

    def __init__(self, service: SuggestionService) -> None:
        self.service = service

    def commands(self) -> list[Command]:
        return [
            Command("suggest", "draft posts about a topic", self.suggest, admin_only=True, usage=SUGGEST_USAGE),
            Command("drafts", "list drafts waiting for review", self.list_drafts, admin_only=True),
            Command("draft", "edit, approve or reject a draft", self.draft, admin_only=True, usage=DRAFT_USAGE),
        ]

    async def suggest(self, turn: TurnContext, args: str) -> str:
        topic, count = split_count(args)
        if not topic:
            return SUGGEST_USAGE
        author = f"{turn.message.platform}:{turn.message.author.user_id}"
        try:
            result = await self.service.suggest(topic, self.service.parse_count(count), created_by=author)
        except SuggestError as exc:
            return f"{exc}."
        drafts = "\n\n".join(format_draft(draft) for draft in result.drafts)
        return f"{len(result.drafts)} draft(s) about {topic}:\n\n{drafts}\n\nApprove one with /draft approve <id>."

    async def list_drafts(self, turn: TurnContext, args: str) -> str:
        drafts = self.service.drafts.list()
        if not drafts:
            return "No drafts. Ask for some with /suggest <topic>."
        return "\n\n".join(format_draft(draft) for draft in drafts)

    async def draft(self, turn: TurnContext, args: str) -> str:
        action, _, rest = args.strip().partition(" ")
        draft_id_text, _, text = rest.strip().partition(" ")
        match = _ID.match(draft_id_text)
        if action.lower() not in ("edit", "approve", "reject", "show") or not match:
            return DRAFT_USAGE
        draft_id = int(match.group(1))
        drafts = self.service.drafts
        try:
            if action.lower() == "show":
                return format_draft(drafts.get(draft_id), full=True)
            if action.lower() == "edit":
                if not text.strip():
                    return DRAFT_USAGE
                return "Edited (approve it again before scheduling):\n" + format_draft(drafts.edit(draft_id, text))
            if action.lower() == "approve":
                return f"Draft #{drafts.approve(draft_id).id} approved. Schedule it with /schedule {draft_id} ..."
            return f"Draft #{drafts.reject(draft_id).id} rejected."
        except SuggestError as exc:
            return f"{exc}."
