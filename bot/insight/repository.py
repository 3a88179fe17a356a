"""Reading and writing the insight tables: which messages still need a sentiment, storing it, forgetting it.

Sentiment rows are keyed by the stored message id; a member's rows are found through `messages.user_id`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.insight.sentiment import SentimentResult
from bot.store import Store, utc_now


@dataclass(frozen=True)
class PendingMessage:
    """A stored member message that has no sentiment yet, with what its row repeats from the message."""

    id: int
    text: str
    conversation_id: int
    user_id: int | None
    created_at: str
    status: str
    offensive: float | None
    moderated: bool


@dataclass(frozen=True)
class StoredExample:
    """A message an alert pointed at, as stored now (`text` is None once it was deleted or forgotten)."""

    message_id: int
    created_at: str | None
    text: str | None


@dataclass(frozen=True)
class StoredAlert:
    """One sent alert as recorded: what the staff look up from the id the alert named."""

    alert_id: int
    kind: str
    chat: str
    fired_at: str
    summary: str
    examples: tuple[StoredExample, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "alert_id": self.alert_id,
            "kind": self.kind,
            "chat": self.chat,
            "fired_at": self.fired_at,
            "summary": self.summary,
            "examples": [
                {"message_id": e.message_id, "created_at": e.created_at, "text": e.text} for e in self.examples
            ],
        }


class InsightRepository:
    """The insight tables of one bot database."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def unscored(self, from_id: int = 0, limit: int = 256) -> list[PendingMessage]:
        """Member messages (not bots', not the bot's own) with id >= `from_id` and no sentiment row, by id."""
        rows = self.store.db.query(
            """select m.id, m.text, m.conversation_id, m.user_id, m.created_at, m.status,
                      d.id as decision_id, json_extract(d.scores, '$.offensive') as offensive
               from messages m
               left join insight_sentiment s on s.message_id = m.id
               left join users u on u.id = m.user_id
               left join moderation_decisions d on d.message_id = m.id and d.direction = 'in'
               where m.id >= ? and m.role = 'user' and s.message_id is null and coalesce(u.is_bot, 0) = 0
                 and m.text not like '/%'
               order by m.id limit ?""",
            [from_id, limit],
        )
        return [
            PendingMessage(
                int(row["id"]),
                str(row["text"] or ""),
                int(row["conversation_id"]),
                row["user_id"],
                str(row["created_at"]),
                str(row["status"]),
                float(row["offensive"]) if row["offensive"] is not None else None,
                row["decision_id"] is not None,
            )
            for row in rows
        ]

    def record(self, scored: list[tuple[PendingMessage, SentimentResult]], model: str) -> int:
        """Store each message's sentiment (a message deleted meanwhile is skipped); returns rows written."""
        now = utc_now()
        written = 0
        with self.store.transaction() as db:
            for message, result in scored:
                cursor = db.execute(
                    """insert or replace into insight_sentiment
                       (message_id, conversation_id, user_id, created_at, offensive,
                        label, negative, neutral, positive, language, model, scored_at)
                       select ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? where exists (select 1 from messages where id = ?)""",
                    [
                        message.id,
                        message.conversation_id,
                        message.user_id,
                        message.created_at,
                        message.offensive,
                        result.label,
                        result.scores["negative"],
                        result.scores["neutral"],
                        result.scores["positive"],
                        result.language,
                        model,
                        now,
                        message.id,
                    ],
                )
                written += cursor.rowcount
        return written

    def record_replies(self, from_id: int = 0, limit: int = 5000) -> tuple[int, int]:
        """Record outcome and response time of bot replies with id >= `from_id` not recorded yet.

        Returns (rows written, the id to start from next time).
        """
        with self.store.transaction() as db:
            cursor = db.execute(
                """insert or ignore into insight_replies
                       (message_id, conversation_id, created_at, question_id, outcome, response_s)
                   select a.id, a.conversation_id, a.created_at, q.id,
                          coalesce(json_extract(a.details, '$.outcome'), ''),
                          (julianday(a.created_at) - julianday(q.created_at)) * 86400.0
                   from messages a
                   left join insight_replies r on r.message_id = a.id
                   left join messages q on q.conversation_id = a.conversation_id and a.reply_to_message_id != ''
                        and q.platform_message_id = a.reply_to_message_id and q.role = 'user'
                   where a.id >= ? and a.role = 'assistant' and r.message_id is null
                   order by a.id limit ?""",
                [from_id, limit],
            )
            written = int(cursor.rowcount)
            top = db.execute("select coalesce(max(message_id), 0) from insight_replies").fetchone()[0]
        return written, max(from_id, int(top) + 1) if written else from_id

    def sentiment_of(self, message_id: int) -> dict[str, Any] | None:
        rows = list(self.store.db.query("select * from insight_sentiment where message_id = ?", [message_id]))
        return rows[0] if rows else None

    def forget_user(self, platform: str, platform_user_id: str) -> int:
        """Delete the member's sentiment rows; returns how many were removed."""
        with self.store.transaction() as db:
            cursor = db.execute(
                """delete from insight_sentiment where message_id in (
                       select m.id from messages m join users u on u.id = m.user_id
                       where u.platform = ? and u.platform_user_id = ?)""",
                [platform, platform_user_id],
            )
            return int(cursor.rowcount)

    def export_user(self, platform: str, platform_user_id: str) -> list[dict[str, Any]]:
        """Everything insight holds about one member: the sentiment of each of their messages."""
        rows = self.store.db.query(
            """select m.id as message_id, m.created_at, s.label, s.negative, s.neutral, s.positive, s.language
               from insight_sentiment s join messages m on m.id = s.message_id
               join users u on u.id = m.user_id
               where u.platform = ? and u.platform_user_id = ? order by m.id""",
            [platform, platform_user_id],
        )
        return [dict(row) for row in rows]

    def record_alert(self, kind: str, conversation_id: int, fired_at: str, summary: str, message_ids: list[int]) -> int:
        with self.store.transaction() as db:
            table = db.table("insight_alerts")
            table.insert(
                {
                    "kind": kind,
                    "conversation_id": conversation_id,
                    "fired_at": fired_at,
                    "summary": summary,
                    "message_ids": json.dumps(message_ids),
                }
            )
            return int(table.last_pk or 0)

    def alert(self, alert_id: int) -> StoredAlert | None:
        """The recorded alert `alert_id` with its example messages as they are stored now; None if unknown."""
        rows = list(
            self.store.db.query(
                """select a.*, coalesce(c.platform || ':' || c.chat_id, '') as chat from insight_alerts a
                   left join conversations c on c.id = a.conversation_id where a.id = ?""",
                [alert_id],
            )
        )
        if not rows:
            return None
        row = rows[0]
        examples = []
        for message_id in json.loads(row["message_ids"] or "[]"):
            found = list(self.store.db.query("select created_at, text from messages where id = ?", [int(message_id)]))
            stored = found[0] if found else {"created_at": None, "text": None}
            examples.append(StoredExample(int(message_id), stored["created_at"], stored["text"]))
        return StoredAlert(
            int(row["id"]),
            str(row["kind"]),
            str(row["chat"]),
            str(row["fired_at"]),
            str(row["summary"] or ""),
            tuple(examples),
        )

    def last_alert_at(self, kind: str, conversation_id: int) -> str | None:
        rows = list(
            self.store.db.query(
                "select max(fired_at) as last from insight_alerts where kind = ? and conversation_id = ?",
                [kind, conversation_id],
            )
        )
        return str(rows[0]["last"]) if rows and rows[0]["last"] else None
