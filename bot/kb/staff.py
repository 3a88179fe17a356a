"""Where tickets are announced, and what `config check` says when nowhere is set (no heavy imports)."""

from __future__ import annotations

from bot.kb.settings import KbSection
from bot.messages import ConversationKey


def staff_conversation(section: KbSection) -> ConversationKey | None:
    """The staff chat tickets are announced in, or None when the config names none."""
    if section.staff_platform and section.staff_chat_id:
        return ConversationKey(section.staff_platform, section.staff_chat_id, section.staff_thread_id)
    return None


def handoff_warnings(section: KbSection) -> list[str]:
    """What `config check` should warn about in the handoff setup (a ticket nobody would be told of)."""
    if staff_conversation(section) is None:
        return [
            "[kb] staff_platform / staff_chat_id are not set: a person asking for a human gets a ticket, but "
            "nobody is notified (they are told so, and the bot keeps answering them)"
        ]
    return []
