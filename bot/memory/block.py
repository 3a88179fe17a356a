"""What the model is told about the member it answers: their stated facts and a summary of older turns.

`memory_block(...)` returns a few short lines for the system prompt, bounded by characters so the history
budget keeps most of the prompt; empty when there is nothing to say.
"""

from __future__ import annotations

from bot.memory.facts import FactStore, MemoryScope
from bot.memory.summary import ConversationSummaries
from bot.routing import TurnContext
from bot.store import Store

DEFAULT_MAX_CHARS = 600
_PROMPT_LABELS = {
    "name": "name",
    "address_as": "likes to be called",
    "language": "speaks",
    "preference": "prefers",
    "order_number": "order number",
    "allergy": "allergic to",
    "appointment": "appointment",
    "birthday": "birthday",
    "email": "email",
}


def memory_block(store: Store, turn: TurnContext, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Facts this member stated in this community, then older conversation lines, within `max_chars`."""
    facts = FactStore(store).facts(MemoryScope.of(turn.message))
    lines: list[str] = []
    if facts:
        items = "; ".join(f"{_PROMPT_LABELS.get(fact.kind, fact.kind)}: {fact.value}" for fact in reversed(facts))
        lines.append(f"What this person told you about themselves (newest first): {items}.")
    summary = ConversationSummaries(store).roll(turn.conversation_id, turn.stored_message_id)
    if summary:
        quoted = " | ".join(line.text for line in summary)
        lines.append(f"Earlier in this conversation people said: {quoted}")
    block = "\n".join(lines)
    if len(block) > max_chars:
        block = block[: max_chars - 1].rsplit(" ", 1)[0] + "…"
    return block
