"""Where a post goes, as people type it: `here`, or `platform:chat_id[:thread_id]`."""

from __future__ import annotations

import re

from bot.messages import ConversationKey
from bot.scheduling import SchedulingError

_TARGET = re.compile(r"^(?P<platform>[a-z][a-z0-9_]*):(?P<chat>[^:\s]+)(?::(?P<thread>[^:\s]+))?$")


def parse_target(text: str, here: ConversationKey | None = None) -> ConversationKey:
    """A conversation key from `telegram:-100123`, `discord:987654:thread`, or `here` (the current chat)."""
    value = text.strip()
    if value.lower() == "here":
        if here is None:
            raise SchedulingError("'here' only works in a chat; give platform:chat_id instead")
        return here
    match = _TARGET.match(value)
    if not match:
        raise SchedulingError(f"'{text}' is not a target; use 'here' or platform:chat_id, like telegram:-100123")
    return ConversationKey(match.group("platform"), match.group("chat"), match.group("thread") or "")


def format_target(key: ConversationKey) -> str:
    return f"{key.platform}:{key.chat_id}" + (f":{key.thread_id}" if key.thread_id else "")
