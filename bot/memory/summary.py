"""A rolling, extractive summary of what was said before the part of a conversation the prompt still holds.

The prompt keeps only the newest messages that fit the token budget; older ones would be lost to the model.
This keeps the few most informative sentences people wrote before the recent window (numbers, names, dates),
updated incrementally and stored per conversation, each line tagged with its writer so it can be forgotten.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from bot.memory.extraction import looks_like_instruction
from bot.store import Store, utc_now

RECENT_WINDOW = 16  # messages the prompt is expected to hold; older ones are summarised
MAX_LINES = 4
MAX_LINE_CHARS = 160
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s+")


@dataclass(frozen=True)
class SummaryLine:
    """One kept sentence: the message and writer it came from, and the words."""

    message_id: int
    user_id: int | None
    text: str


def informativeness(sentence: str) -> float:
    """Higher for sentences carrying specifics: digits, capitalised words, some length; greetings score low."""
    words = sentence.split()
    if len(words) < 3 and not any(char.isdigit() for char in sentence):
        return 0.0
    digits = 2.0 if any(char.isdigit() for char in sentence) else 0.0
    capitals = sum(1 for word in words[1:] if word[:1].isupper())
    return digits + min(capitals, 3) * 0.7 + min(len(words), 20) / 10


class ConversationSummaries:
    """Reads and rolls forward `memory_summaries`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def lines(self, conversation_id: int) -> list[SummaryLine]:
        row = self.store.db.execute(
            "select lines from memory_summaries where conversation_id = ?", [conversation_id]
        ).fetchone()
        if row is None:
            return []
        return [SummaryLine(item["m"], item.get("u"), item["t"]) for item in json.loads(row[0])]

    def roll(self, conversation_id: int, before_id: int) -> list[SummaryLine]:
        """Bring the summary up to the messages before the recent window ending at `before_id`; returns it."""
        db = self.store.db
        reset_row = db.execute("select reset_at from conversations where id = ?", [conversation_id]).fetchone()
        reset_at = int(reset_row[0] or 0) if reset_row else 0
        window = db.execute(
            """select id from messages where conversation_id = ? and id < ? and role in ('user', 'assistant')
               and status != 'ignored' order by id desc limit 1 offset ?""",
            [conversation_id, before_id, RECENT_WINDOW - 1],
        ).fetchone()
        current = self.lines(conversation_id)
        current = [line for line in current if line.message_id > reset_at]
        if window is None:
            return current
        cutoff = int(window[0])  # messages with id < cutoff are outside the recent window
        stored = db.execute(
            "select upto_message_id from memory_summaries where conversation_id = ?", [conversation_id]
        ).fetchone()
        upto = max(int(stored[0]) if stored else 0, reset_at)
        if cutoff - 1 <= upto:
            return current
        rows = db.execute(
            """select id, user_id, text from messages where conversation_id = ? and id > ? and id < ?
               and role = 'user' and status != 'ignored' order by id""",
            [conversation_id, upto, cutoff],
        ).fetchall()
        candidates = list(current)
        for message_id, user_id, text in rows:
            if text.startswith("/"):
                continue
            for sentence in _SENTENCE.split(" ".join(text.split())):
                if informativeness(sentence) > 1.0 and not looks_like_instruction(sentence):
                    candidates.append(SummaryLine(message_id, user_id, sentence[:MAX_LINE_CHARS]))
        kept = sorted(candidates, key=lambda line: informativeness(line.text), reverse=True)[:MAX_LINES]
        kept.sort(key=lambda line: line.message_id)
        payload = json.dumps([{"m": line.message_id, "u": line.user_id, "t": line.text} for line in kept])
        with self.store.transaction() as tx:
            tx.table("memory_summaries").upsert(
                {
                    "conversation_id": conversation_id,
                    "upto_message_id": cutoff - 1,
                    "lines": payload,
                    "updated_at": utc_now(),
                },
                pk="conversation_id",
            )
        return kept

    def forget_user(self, user_id: int) -> int:
        """Drop every summary line written by `user_id`; returns the lines removed."""
        removed = 0
        rows = self.store.db.execute("select conversation_id, lines from memory_summaries").fetchall()
        with self.store.transaction() as db:
            for conversation_id, payload in rows:
                items = json.loads(payload)
                kept = [item for item in items if item.get("u") != user_id]
                if len(kept) != len(items):
                    removed += len(items) - len(kept)
                    db.execute(
                        "update memory_summaries set lines = ? where conversation_id = ?",
                        [json.dumps(kept), conversation_id],
                    )
        return removed
