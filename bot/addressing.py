"""Whether a message is for the bot when no per-chat setting says otherwise."""

from __future__ import annotations

from collections.abc import Mapping

from bot.messages import IncomingMessage


def addressed_by_default(message: IncomingMessage, group_modes: Mapping[str, str]) -> bool:
    """DMs always; in groups by the platform's configured mode: 'always', 'silent' or 'mention' (the default).

    'mention' also covers replies to the bot. Messages from bots, and messages where the bot may not post,
    are never addressed.
    """
    if message.author.is_bot or not message.may_reply:
        return False
    if message.is_direct:
        return True
    mode = group_modes.get(message.platform, "mention")
    if mode == "silent":
        return False
    return mode == "always" or message.is_addressed_to_bot
