"""The moderation log: recording automod actions, counting offences, undoing, and labelling mistakes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.store import Store, utc_now


@dataclass(frozen=True)
class ModlogEntry:
    """One automod action as admins review it."""

    id: int
    conversation_id: int
    platform_message_id: str
    platform_user_id: str
    level: int
    actions: tuple[str, ...]
    reasons: tuple[str, ...]
    scores: dict[str, float]
    text: str
    created_at: str
    undone_at: str | None
    wrong: bool

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ModlogEntry:
        return cls(
            id=row["id"],
            conversation_id=row["conversation_id"],
            platform_message_id=row["platform_message_id"] or "",
            platform_user_id=row["platform_user_id"] or "",
            level=row["level"],
            actions=tuple(json.loads(row["actions"])),
            reasons=tuple(json.loads(row["reasons"])),
            scores=json.loads(row["scores"]),
            text=row["text"] or "",
            created_at=row["created_at"],
            undone_at=row["undone_at"],
            wrong=bool(row["wrong"]),
        )

    def summary(self) -> str:
        state = " (undone)" if self.undone_at else ""
        state += " (marked wrong)" if self.wrong else ""
        preview = " ".join(self.text.split())[:60]
        return (
            f"#{self.id} user {self.platform_user_id}: {', '.join(self.actions)}{state} — "
            f'{", ".join(self.reasons) or "flagged"} — "{preview}"'
        )


class ModerationLog:
    """Reads and writes `automod_actions` and `moderation_feedback`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(
        self,
        conversation_id: int,
        message_id: int,
        platform_message_id: str,
        platform_user_id: str,
        level: int,
        actions: tuple[str, ...],
        reasons: tuple[str, ...],
        scores: dict[str, float],
        text: str,
    ) -> int:
        with self.store.transaction() as db:
            table = db.table("automod_actions")
            table.insert(
                {
                    "conversation_id": conversation_id,
                    "message_id": message_id,
                    "platform_message_id": platform_message_id,
                    "platform_user_id": platform_user_id,
                    "level": level,
                    "actions": json.dumps(list(actions)),
                    "reasons": json.dumps(list(reasons)),
                    "scores": json.dumps(scores),
                    "text": text,
                    "created_at": utc_now(),
                    "undone_at": None,
                    "undone_by": None,
                    "reversal_pending": 0,
                    "wrong": 0,
                }
            )
            return int(table.last_pk or 0)

    def recent_offences(self, conversation_id: int, platform_user_id: str, window_minutes: int) -> int:
        """Offences by this user in this chat within the window that were not undone or marked wrong."""
        since = (datetime.now(UTC) - timedelta(minutes=window_minutes)).isoformat()
        row = next(
            self.store.db.query(
                "select count(*) as n from automod_actions where conversation_id = ? and platform_user_id = ? "
                "and created_at >= ? and undone_at is null and wrong = 0",
                [conversation_id, platform_user_id, since],
            )
        )
        return int(row["n"])

    def get(self, entry_id: int) -> ModlogEntry | None:
        rows = list(self.store.db.query("select * from automod_actions where id = ?", [entry_id]))
        return ModlogEntry.from_row(rows[0]) if rows else None

    def recent(self, conversation_id: int | None = None, limit: int = 10) -> list[ModlogEntry]:
        if conversation_id is None:
            rows = self.store.db.query("select * from automod_actions order by id desc limit ?", [limit])
        else:
            rows = self.store.db.query(
                "select * from automod_actions where conversation_id = ? order by id desc limit ?",
                [conversation_id, limit],
            )
        return [ModlogEntry.from_row(row) for row in rows]

    def mark_undone(self, entry_id: int, by: str, reversal_pending: bool) -> None:
        with self.store.transaction() as db:
            db.execute(
                "update automod_actions set undone_at = ?, undone_by = ?, reversal_pending = ? where id = ?",
                [utc_now(), by, int(reversal_pending), entry_id],
            )

    def reversal_done(self, entry_id: int) -> None:
        with self.store.transaction() as db:
            db.execute("update automod_actions set reversal_pending = 0 where id = ?", [entry_id])

    def pending_reversals(self) -> list[ModlogEntry]:
        rows = self.store.db.query("select * from automod_actions where reversal_pending = 1 order by id")
        return [ModlogEntry.from_row(row) for row in rows]

    def mark_wrong(self, entry_id: int, by: str) -> None:
        """An admin says the message was not offensive: keep it as a labelled example for retraining."""
        entry = self.get(entry_id)
        if entry is None:
            return
        with self.store.transaction() as db:
            db.execute("update automod_actions set wrong = 1 where id = ?", [entry_id])
            db.table("moderation_feedback").insert(
                {
                    "text": entry.text,
                    "label": "NOT",
                    "source": f"automod:{entry_id}",
                    "reported_by": by,
                    "created_at": utc_now(),
                }
            )

    def feedback(self) -> list[dict[str, Any]]:
        return list(
            self.store.db.query(
                "select text, label, source, reported_by, created_at from moderation_feedback order by id"
            )
        )
