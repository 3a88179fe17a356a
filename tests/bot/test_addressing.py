"""Default addressing: DMs always, groups by the platform's configured mode."""

from __future__ import annotations

from dataclasses import replace

from bot.addressing import addressed_by_default
from tests.support import incoming


def test_direct_messages_are_always_addressed() -> None:
    assert addressed_by_default(incoming("hi", platform="telegram"), {"telegram": "silent"})


def test_group_modes() -> None:
    chatter = incoming("hi", platform="telegram", is_direct=False)
    mention = replace(chatter, mentions_bot=True)
    assert not addressed_by_default(chatter, {})
    assert addressed_by_default(mention, {})
    assert addressed_by_default(chatter, {"telegram": "always"})
    assert not addressed_by_default(mention, {"telegram": "silent"})


def test_bots_are_never_addressed() -> None:
    assert not addressed_by_default(incoming("hi", is_bot=True), {})


def test_chats_where_the_bot_may_not_post_are_never_addressed() -> None:
    mention = replace(incoming("hi", platform="discord", is_direct=False), mentions_bot=True, may_reply=False)
    for mode in ("mention", "always"):
        assert not addressed_by_default(mention, {"discord": mode})
