"""Building the model's prompt: the persona, then as much recent history as fits the token budget."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.engine.base import ChatTurn
from bot.store import StoredMessage

TokenCounter = Callable[[Sequence[ChatTurn]], int]


@dataclass(frozen=True)
class BuiltPrompt:
    """The turns sent to the model and how many history messages made it in."""

    turns: tuple[ChatTurn, ...]
    history_used: int
    history_dropped: int
    tokens: int


def build_prompt(
    system_prompt: str,
    history: Sequence[StoredMessage],
    user_text: str,
    token_budget: int,
    count_tokens: TokenCounter,
) -> BuiltPrompt:
    """System prompt + newest history that fits `token_budget` + the new user text; oldest dropped first.

    `history` is oldest-first and must not include the new message. The system prompt and the new message
    are always kept (the user text was already truncated to the input limit).
    """
    system = ChatTurn("system", system_prompt)
    current = ChatTurn("user", user_text)
    kept: list[ChatTurn] = []
    tokens = count_tokens([system, current])
    for stored in reversed(history):
        candidate = ChatTurn("assistant" if stored.role == "assistant" else "user", stored.text)
        trial = count_tokens([system, candidate, *kept, current])
        if trial > token_budget:
            break
        kept.insert(0, candidate)
        tokens = trial
    # Chat templates expect alternating turns after the system prompt; merge consecutive same-role turns.
    merged: list[ChatTurn] = []
    for turn in kept:
        if merged and merged[-1].role == turn.role:
            merged[-1] = ChatTurn(turn.role, merged[-1].content + "\n" + turn.content)
        else:
            merged.append(turn)
    if merged and merged[-1].role == "user":
        current = ChatTurn("user", merged.pop().content + "\n" + user_text)
    return BuiltPrompt((system, *merged, current), len(kept), len(history) - len(kept), tokens)
