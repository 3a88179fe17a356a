"""A generated community history (members, messages, replies, sentiment, offensive scores) for the insight
benchmark and tests: rows are written straight into the tables, with chosen timestamps, in one transaction.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.store import Store

PHRASES = (
    "when is the next meetup", "the new release is great", "my order never arrived", "thanks for the help",
    "how do I reset my password", "this update broke everything", "love this community", "where can I find the rules",
)  # fmt: skip
OUTCOMES = ("answered", "answered", "answered", "declined", "handoff")


@dataclass(frozen=True)
class SyntheticCommunity:
    """What to generate: total stored messages (member messages plus bot replies) over `days` days."""

    messages: int = 10_000
    days: int = 28
    chats: int = 5
    members: int = 2_000
    reply_share: float = 0.3
    negative_share: float = 0.2
    toxic_share: float = 0.03
    seed: int = 7


def generate(store: Store, spec: SyntheticCommunity, start: datetime) -> int:
    """Write the community into `store`; returns the number of message rows written."""
    rng = random.Random(spec.seed)
    db = store.db
    with store.transaction():
        base_user = int(next(iter(db.query("select coalesce(max(id), 0) as top from users")))["top"])
        db.conn.executemany(
            "insert into users (id, platform, platform_user_id, display_name, username, is_bot, first_seen, last_seen)"
            " values (?, 'telegram', ?, ?, ?, 0, ?, ?)",
            [
                (
                    base_user + n,
                    f"synthetic-{spec.seed}-{n}",
                    f"member {n}",
                    f"m{n}",
                    start.isoformat(),
                    start.isoformat(),
                )
                for n in range(1, spec.members + 1)
            ],
        )
        conversations = []
        for n in range(spec.chats):
            cursor = db.conn.execute(
                "insert into conversations (platform, chat_id, thread_id, created_at, reset_at)"
                " values (?, ?, '', ?, 0)",
                ("telegram", f"-100{spec.seed}{n}", start.isoformat()),
            )
            conversations.append(int(cursor.lastrowid or 0))
        next_id = int(next(iter(db.query("select coalesce(max(id), 0) as top from messages")))["top"]) + 1
        span = spec.days * 86400.0
        messages: list[tuple[object, ...]] = []
        replies: list[tuple[object, ...]] = []
        sentiments: list[tuple[object, ...]] = []
        decisions: list[tuple[object, ...]] = []
        written = 0
        while written < spec.messages:
            created = start + timedelta(seconds=rng.random() * span)
            conversation = conversations[int(rng.random() ** 1.5 * spec.chats)]
            user = base_user + 1 + int(rng.random() ** 2 * spec.members)
            platform_id = str(next_id)
            text = rng.choice(PHRASES) + ("?" if rng.random() < 0.3 else "")
            messages.append(
                (
                    next_id,
                    conversation,
                    user,
                    "user",
                    text,
                    created.isoformat(),
                    platform_id,
                    "",
                    "answered",
                    None,
                    None,
                )
            )
            roll = rng.random()
            label = "negative" if roll < spec.negative_share else ("positive" if roll > 0.6 else "neutral")
            offensive = rng.random() * 0.5 + (0.5 if rng.random() < spec.toxic_share else 0.0)
            sentiments.append((next_id, conversation, user, created.isoformat(), offensive, label, created.isoformat()))
            decisions.append((next_id, json.dumps({"offensive": round(offensive, 4)}), created.isoformat()))
            user_message = next_id
            next_id += 1
            written += 1
            if written < spec.messages and rng.random() < spec.reply_share / (1 - spec.reply_share):
                replied = created + timedelta(seconds=1 + rng.random() * 20)
                outcome = rng.choice(OUTCOMES)
                details = json.dumps({"outcome": outcome})
                messages.append(
                    (next_id, conversation, None, "assistant", "reply", replied.isoformat(), f"bot-{next_id}",
                     str(user_message), "sent", "kb:generated", details)
                )  # fmt: skip
                replies.append(
                    (
                        next_id,
                        conversation,
                        replied.isoformat(),
                        user_message,
                        outcome,
                        (replied - created).total_seconds(),
                    )
                )
                next_id += 1
                written += 1
            if len(messages) >= 50_000:
                _flush(store, messages, sentiments, decisions, replies)
        _flush(store, messages, sentiments, decisions, replies)
    return written


def _flush(
    store: Store,
    messages: list[tuple[object, ...]],
    sentiments: list[tuple[object, ...]],
    decisions: list[tuple[object, ...]],
    replies: list[tuple[object, ...]],
) -> None:
    conn = store.db.conn
    conn.executemany(
        "insert into messages (id, conversation_id, user_id, role, text, created_at, platform_message_id,"
        " reply_to_message_id, status, source, details) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        messages,
    )
    conn.executemany(
        "insert into insight_sentiment (message_id, conversation_id, user_id, created_at, offensive, label,"
        " negative, neutral, positive, language, model, scored_at)"
        " values (?, ?, ?, ?, ?, ?, 0, 0, 0, 'en', 'synthetic', ?)",
        sentiments,
    )
    conn.executemany(
        "insert into moderation_decisions (message_id, direction, decision, reasons, scores, created_at)"
        " values (?, 'in', 'allow', '[]', ?, ?)",
        decisions,
    )
    conn.executemany(
        "insert into insight_replies (message_id, conversation_id, created_at, question_id, outcome, response_s)"
        " values (?, ?, ?, ?, ?, ?)",
        replies,
    )
    messages.clear()
    replies.clear()
    sentiments.clear()
    decisions.clear()
