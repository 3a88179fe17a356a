"""Helpers for insight tests: a store with members' messages written at chosen times."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.insight.repository import InsightRepository, PendingMessage
from bot.insight.sentiment import SentimentResult
from bot.messages import Author, ConversationKey
from bot.store import Store


@dataclass
class History:
    """Writes a chat's history straight into a store: member messages with sentiment, offensive score, replies."""

    store: Store

    def __post_init__(self) -> None:
        self.repository = InsightRepository(self.store)

    def message(
        self,
        at: datetime,
        text: str,
        user: str = "u1",
        chat: str = "chat-1",
        label: str = "neutral",
        offensive: float = 0.05,
        outcome: str | None = None,
        reply_after: timedelta = timedelta(seconds=4),
        platform: str = "telegram",
    ) -> int:
        key = ConversationKey(platform, chat)
        conversation_id = self.store.conversation_id(key)
        user_id = self.store.upsert_user(platform, Author(user, display_name=user))
        platform_id = f"p{at.timestamp()}-{user}-{text[:8]}"
        message_id = self.store.insert_message(
            conversation_id, "user", text, "answered", user_id=user_id, platform_message_id=platform_id
        )
        self.store.record_moderation(message_id, "in", "allow", [], {"offensive": offensive})
        with self.store.transaction() as db:
            db.execute("update messages set created_at = ? where id = ?", [at.isoformat(), message_id])
        scores = {"negative": 0.1, "neutral": 0.1, "positive": 0.1} | {label: 0.8}
        pending = PendingMessage(
            message_id, text, conversation_id, user_id, at.isoformat(), "answered", offensive, True
        )
        self.repository.record([(pending, SentimentResult(label, scores, "en", True))], "test")
        if outcome is not None:
            reply_id = self.store.insert_message(
                conversation_id,
                "assistant",
                "reply",
                "sent",
                reply_to_message_id=platform_id,
                source="kb",
                details={"outcome": outcome},
            )
            with self.store.transaction() as db:
                db.execute(
                    "update messages set created_at = ? where id = ?", [(at + reply_after).isoformat(), reply_id]
                )
            self.repository.record_replies()
        return message_id


def details_of(raw: str | None) -> dict[str, object]:
    return json.loads(raw) if raw else {}
