"""Prompt building: persona first, newest history that fits the budget, oldest dropped first."""

from __future__ import annotations

from collections.abc import Sequence

from bot.context import build_prompt
from bot.engine.base import ChatTurn
from bot.store import StoredMessage


def words(turns: Sequence[ChatTurn]) -> int:
    return sum(len(turn.content.split()) + 4 for turn in turns)


def stored(index: int, role: str, text: str) -> StoredMessage:
    return StoredMessage(index, 1, None, role, text, "", "", "", "answered")


HISTORY = [
    stored(1, "user", "oldest question " * 5),
    stored(2, "assistant", "oldest answer " * 5),
    stored(3, "user", "recent question"),
    stored(4, "assistant", "recent answer"),
]


def test_everything_fits_in_a_large_budget() -> None:
    prompt = build_prompt("persona", HISTORY, "new", 1000, words)
    assert [turn.role for turn in prompt.turns] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert prompt.history_dropped == 0


def test_oldest_turns_are_dropped_first() -> None:
    prompt = build_prompt("persona", HISTORY, "new", 24, words)
    contents = [turn.content for turn in prompt.turns]
    assert contents == ["persona", "recent question", "recent answer", "new"]
    assert prompt.history_dropped == 2
    assert prompt.tokens <= 24


def test_system_prompt_and_new_message_are_always_kept() -> None:
    prompt = build_prompt("persona", HISTORY, "new", 1, words)
    assert [turn.content for turn in prompt.turns] == ["persona", "new"]


def test_consecutive_user_messages_are_merged_for_the_chat_template() -> None:
    history = [stored(1, "user", "first"), stored(2, "user", "second")]
    prompt = build_prompt("persona", history, "third", 100, words)
    assert [turn.content for turn in prompt.turns] == ["persona", "first\nsecond\nthird"]
