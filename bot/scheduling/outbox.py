"""SQL of schedules and of the posts outbox; every state change is one conditional UPDATE in a transaction.

Post states: pending -> sending -> sent; pending -> missed (time passed beyond the grace period);
sending -> failed (gave up) or back to pending (retry later); sending -> unknown (interrupted on a platform
without idempotency: maybe posted, never re-sent); pending -> cancelled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.messages import ConversationKey
from bot.scheduling.timing import Timing, from_db_time, to_db_time
from bot.store import Store

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
MISSED = "missed"
UNKNOWN = "unknown"
CANCELLED = "cancelled"
REPORTABLE_STATES = (FAILED, MISSED, UNKNOWN)

ACTIVE = "active"
DONE = "done"


@dataclass(frozen=True)
class Schedule:
    """One planned post or recurrence: what to post, where, and when."""

    id: int
    text: str
    target: ConversationKey
    timing: Timing
    timezone: str
    status: str
    created_at: datetime
    draft_id: int | None = None
    created_by: str = ""

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Schedule:
        return cls(
            id=row["id"],
            text=row["text"],
            target=ConversationKey(row["platform"], row["chat_id"], row["thread_id"] or ""),
            timing=Timing(row["kind"], row["spec"]),
            timezone=row["timezone"],
            status=row["status"],
            created_at=from_db_time(row["created_at"]),
            draft_id=row["draft_id"],
            created_by=row["created_by"] or "",
        )


@dataclass(frozen=True)
class Post:
    """One run slot of a schedule in the outbox, with its delivery state."""

    id: int
    schedule_id: int
    slot_time: datetime
    state: str
    attempts: int
    idempotency_key: str
    last_error: str = ""
    not_before: datetime | None = None
    platform_message_ids: tuple[str, ...] = ()
    coalesced: int = 0
    updated_at: datetime | None = None
    sent_at: datetime | None = None
    reported: bool = False
    delivered_chars: int = 0

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Post:
        return cls(
            id=row["id"],
            schedule_id=row["schedule_id"],
            slot_time=from_db_time(row["slot_time"]),
            state=row["state"],
            attempts=row["attempts"],
            idempotency_key=row["idempotency_key"] or "",
            last_error=row["last_error"] or "",
            not_before=from_db_time(row["not_before"]) if row["not_before"] else None,
            platform_message_ids=tuple(json.loads(row["platform_message_ids"] or "[]")),
            coalesced=row["coalesced"],
            updated_at=from_db_time(row["updated_at"]),
            sent_at=from_db_time(row["sent_at"]) if row["sent_at"] else None,
            reported=bool(row["reported_at"]),
            delivered_chars=row.get("delivered_chars") or 0,
        )


def idempotency_key(schedule_id: int, slot_time: datetime) -> str:
    """Deterministic per (schedule, slot) and at most 25 characters (Discord's nonce limit)."""
    return f"sb{schedule_id}t{int(slot_time.timestamp())}"


class Outbox:
    """Schedules and their posts in the bot's database (the scheduler's only source of truth)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # schedules ----------------------------------------------------------------------------------------

    def add_schedule(
        self,
        text: str,
        target: ConversationKey,
        timing: Timing,
        timezone: str,
        now: datetime,
        draft_id: int | None = None,
        created_by: str = "",
    ) -> Schedule:
        stamp = to_db_time(now)
        row = {
            "draft_id": draft_id,
            "text": text,
            "platform": target.platform,
            "chat_id": target.chat_id,
            "thread_id": target.thread_id,
            "kind": timing.kind,
            "spec": timing.spec,
            "timezone": timezone,
            "status": ACTIVE,
            "created_by": created_by,
            "created_at": stamp,
            "updated_at": stamp,
        }
        with self.store.transaction() as db:
            cursor = db.execute(
                f"insert into schedules ({', '.join(row)}) values ({', '.join('?' for _ in row)})", list(row.values())
            )
            schedule_id = int(cursor.lastrowid or 0)
        return self.get_schedule(schedule_id)

    def get_schedule(self, schedule_id: int) -> Schedule:
        rows = list(self.store.db.query("select * from schedules where id = ?", [schedule_id]))
        if not rows:
            raise KeyError(schedule_id)
        return Schedule.from_row(rows[0])

    def find_schedule(self, schedule_id: int) -> Schedule | None:
        try:
            return self.get_schedule(schedule_id)
        except KeyError:
            return None

    def active_schedules(self) -> list[Schedule]:
        rows = self.store.db.query("select * from schedules where status = ? order by id", [ACTIVE])
        return [Schedule.from_row(row) for row in rows]

    def recent_schedules(self, limit: int = 50) -> list[Schedule]:
        """Active schedules plus the most recent finished or cancelled ones, newest first."""
        rows = self.store.db.query(
            "select * from schedules order by (status = 'active') desc, id desc limit ?", [limit]
        )
        return [Schedule.from_row(row) for row in rows]

    def set_schedule_status(self, schedule_id: int, status: str, now: datetime, only_if: str = ACTIVE) -> bool:
        with self.store.transaction() as db:
            cursor = db.execute(
                "update schedules set status = ?, updated_at = ? where id = ? and status = ?",
                [status, to_db_time(now), schedule_id, only_if],
            )
            return cursor.rowcount == 1

    def cancel_schedule(self, schedule_id: int, now: datetime) -> bool:
        """Stop a schedule and drop its posts not yet started; False when it was not active."""
        stamp = to_db_time(now)
        with self.store.transaction() as db:
            cursor = db.execute(
                "update schedules set status = 'cancelled', updated_at = ? where id = ? and status = ?",
                [stamp, schedule_id, ACTIVE],
            )
            if cursor.rowcount != 1:
                return False
            db.execute(
                "update posts set state = ?, updated_at = ? where schedule_id = ? and state = ?",
                [CANCELLED, stamp, schedule_id, PENDING],
            )
            return True

    def active_schedules_for_draft(self, draft_id: int) -> int:
        row = next(
            self.store.db.query(
                "select count(*) as n from schedules where draft_id = ? and status = ?", [draft_id, ACTIVE]
            )
        )
        return int(row["n"])

    # posts --------------------------------------------------------------------------------------------

    def last_slot(self, schedule_id: int) -> datetime | None:
        row = next(self.store.db.query("select max(slot_time) as slot from posts where schedule_id = ?", [schedule_id]))
        return from_db_time(row["slot"]) if row["slot"] else None

    def claim_slot(
        self,
        schedule_id: int,
        slot_time: datetime,
        state: str,
        now: datetime,
        coalesced: int = 0,
        last_error: str = "",
    ) -> Post | None:
        """Create the post of a slot; None when that slot was already claimed (the UNIQUE constraint)."""
        stamp = to_db_time(now)
        with self.store.transaction() as db:
            cursor = db.execute(
                "insert or ignore into posts (schedule_id, slot_time, state, attempts, idempotency_key, "
                "coalesced, last_error, created_at, updated_at) values (?, ?, ?, 0, ?, ?, ?, ?, ?)",
                [
                    schedule_id,
                    to_db_time(slot_time),
                    state,
                    idempotency_key(schedule_id, slot_time),
                    coalesced,
                    last_error,
                    stamp,
                    stamp,
                ],
            )
            if cursor.rowcount != 1:
                return None
            post_id = cursor.lastrowid
        return self.get_post(int(post_id or 0))

    def get_post(self, post_id: int) -> Post:
        rows = list(self.store.db.query("select * from posts where id = ?", [post_id]))
        if not rows:
            raise KeyError(post_id)
        return Post.from_row(rows[0])

    def posts_in(self, *states: str) -> list[Post]:
        marks = ", ".join("?" for _ in states)
        rows = self.store.db.query(f"select * from posts where state in ({marks}) order by slot_time, id", list(states))
        return [Post.from_row(row) for row in rows]

    def deliverable(self, now: datetime, limit: int = 100) -> list[Post]:
        """Pending posts whose slot (and retry delay) has come, oldest first."""
        stamp = to_db_time(now)
        rows = self.store.db.query(
            "select * from posts where state = ? and slot_time <= ? and (not_before is null or not_before <= ?) "
            "order by slot_time, id limit ?",
            [PENDING, stamp, stamp, limit],
        )
        return [Post.from_row(row) for row in rows]

    def posts_for(self, schedule_id: int, limit: int = 5) -> list[Post]:
        rows = self.store.db.query(
            "select * from posts where schedule_id = ? order by slot_time desc limit ?", [schedule_id, limit]
        )
        return [Post.from_row(row) for row in rows]

    def unreported(self) -> list[Post]:
        marks = ", ".join("?" for _ in REPORTABLE_STATES)
        rows = self.store.db.query(
            f"select * from posts where state in ({marks}) and reported_at is null order by id limit 50",
            list(REPORTABLE_STATES),
        )
        return [Post.from_row(row) for row in rows]

    def transition(self, post_id: int, from_state: str, to_state: str, now: datetime, **fields: Any) -> bool:
        """Move a post between states only if it is still in `from_state`; True when this call moved it."""
        values: dict[str, Any] = {"state": to_state, "updated_at": to_db_time(now), **fields}
        assignments = ", ".join(f"{name} = ?" for name in values)
        with self.store.transaction() as db:
            cursor = db.execute(
                f"update posts set {assignments} where id = ? and state = ?",
                [*values.values(), post_id, from_state],
            )
            return cursor.rowcount == 1

    def start_sending(self, post_id: int, now: datetime) -> bool:
        """Claim a pending post for one delivery attempt (recorded before the platform is called)."""
        with self.store.transaction() as db:
            cursor = db.execute(
                "update posts set state = ?, attempts = attempts + 1, updated_at = ? where id = ? and state = ?",
                [SENDING, to_db_time(now), post_id, PENDING],
            )
            return cursor.rowcount == 1

    def mark_sent(self, post_id: int, platform_message_ids: list[str], now: datetime) -> bool:
        return self.transition(
            post_id,
            SENDING,
            SENT,
            now,
            sent_at=to_db_time(now),
            last_error="",
            platform_message_ids=json.dumps(platform_message_ids),
        )

    def note_error(self, post_id: int, error: str, now: datetime) -> None:
        """Record why a pending post is waiting (platform not connected) without changing its state."""
        with self.store.transaction() as db:
            db.execute(
                "update posts set last_error = ?, updated_at = ? where id = ? and last_error != ?",
                [error[:500], to_db_time(now), post_id, error[:500]],
            )

    def mark_reported(self, post_id: int, now: datetime) -> None:
        with self.store.transaction() as db:
            db.execute("update posts set reported_at = ? where id = ?", [to_db_time(now), post_id])
