"""Retention: rows older than the `[privacy]` limits are deleted or anonymised, then the space is reclaimed.

What goes, per key (0 days keeps everything of that kind):
- `moderation_days`: moderation decisions and automod actions.
- `messages_days`: messages (never ones still owed to a platform). A message a kept moderation decision
  refers to is anonymised (text and author cleared) instead, and goes once that decision goes. Copies of
  removed messages go too: their lines in conversation summaries, the source text of remembered facts.
- `tickets_days`: closed tickets, counted from closing (open tickets stay).
- `logs_days`: audit log entries and event bookkeeping (`processed_events`).
- `memory_days`: remembered facts not restated for that long.
Aggregates (counts kept by other features) are not touched.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlite_utils

from bot.privacy.settings import PrivacySection
from bot.store import Store

log = logging.getLogger(__name__)

KEEP_STATUSES = ("pending_send", "failed")  # owed to a platform: delivery must not lose them


@dataclass(frozen=True)
class RetentionReport:
    """What one retention run removed, per table, and the space the file gave back."""

    ran_at: str
    removed: dict[str, int] = field(default_factory=dict)
    anonymised: dict[str, int] = field(default_factory=dict)
    bytes_before: int = 0
    bytes_after: int = 0

    @property
    def total(self) -> int:
        return sum(self.removed.values()) + sum(self.anonymised.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "ran_at": self.ran_at,
            "removed": self.removed,
            "anonymised": self.anonymised,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
        }

    def describe(self) -> str:
        if not self.total:
            return "retention: nothing was due"
        parts = [f"{count} {table}" for table, count in self.removed.items()]
        parts += [f"{count} {table} anonymised" for table, count in self.anonymised.items()]
        freed = max(0, self.bytes_before - self.bytes_after)
        return f"retention removed {', '.join(parts)}; {freed // 1024} KiB reclaimed"


def _cutoff(now: datetime, days: int) -> str | None:
    return (now - timedelta(days=days)).isoformat() if days > 0 else None


def _file_bytes(store: Store) -> int:
    page_count = store.db.execute("pragma page_count").fetchone()[0]
    page_size = store.db.execute("pragma page_size").fetchone()[0]
    return int(page_count) * int(page_size)


def apply_retention(store: Store, section: PrivacySection, now: datetime, dry_run: bool = False) -> RetentionReport:
    """Remove what is due at `now` (an aware datetime; tests pass a manual clock's time)."""
    removed: dict[str, int] = {}
    anonymised: dict[str, int] = {}
    before = _file_bytes(store)

    def count(target: dict[str, int], table: str, rows: int) -> None:
        if rows > 0:
            target[table] = target.get(table, 0) + rows

    with store.transaction() as db:
        # Explicitly, so sqlite-utils does not commit statement by statement: all of it or nothing (dry run).
        db.conn.execute("begin immediate")
        if cutoff := _cutoff(now, section.moderation_days):
            count(
                removed,
                "moderation_decisions",
                db.execute("delete from moderation_decisions where created_at < ?", [cutoff]).rowcount,
            )
            count(
                removed,
                "automod_actions",
                db.execute("delete from automod_actions where created_at < ?", [cutoff]).rowcount,
            )
        if cutoff := _cutoff(now, section.messages_days):
            due = f"created_at < ? and status not in ({', '.join('?' * len(KEEP_STATUSES))})"
            params = [cutoff, *KEEP_STATUSES]
            referenced = "id in (select message_id from moderation_decisions where message_id is not null)"
            count(
                anonymised,
                "messages",
                db.execute(
                    f"update messages set text = '', user_id = null, details = null where {due} and {referenced} "
                    "and (text != '' or user_id is not null)",
                    params,
                ).rowcount,
            )
            gone = [row[0] for row in db.execute(f"select id from messages where {due} and not {referenced}", params)]
            count(
                removed,
                "messages",
                db.execute(f"delete from messages where {due} and not {referenced}", params).rowcount,
            )
            cleared = set(gone) | {
                row[0] for row in db.execute(f"select id from messages where {due} and text = ''", params)
            }
            count(anonymised, "memory_summaries", _drop_summary_lines(db, cleared))
            if cleared:
                marks = ",".join("?" * len(cleared))
                count(
                    anonymised,
                    "memory_facts",
                    db.execute(
                        f"update memory_facts set source_text = '' where source_message_id in ({marks}) "
                        "and source_text != ''",
                        list(cleared),
                    ).rowcount,
                )
        if cutoff := _cutoff(now, section.tickets_days):
            count(
                removed,
                "tickets",
                db.execute(
                    "delete from tickets where status != 'open' and closed_at is not null and closed_at < ?", [cutoff]
                ).rowcount,
            )
        if cutoff := _cutoff(now, section.logs_days):
            count(removed, "audit_log", db.execute("delete from audit_log where created_at < ?", [cutoff]).rowcount)
            count(
                removed,
                "processed_events",
                db.execute("delete from processed_events where processed_at < ?", [cutoff]).rowcount,
            )
        if cutoff := _cutoff(now, section.memory_days):
            count(
                removed, "memory_facts", db.execute("delete from memory_facts where created_at < ?", [cutoff]).rowcount
            )
        if dry_run:
            db.conn.rollback()
    if not dry_run and (removed or anonymised) and section.vacuum:
        with store.transaction():
            store.db.conn.execute("vacuum")
    report = RetentionReport(now.isoformat(), removed, anonymised, before, _file_bytes(store))
    log.info(report.describe())
    return report


def _drop_summary_lines(db: sqlite_utils.Database, message_ids: set[int]) -> int:
    """Remove summary lines quoting any of `message_ids`; returns how many lines went."""
    if not message_ids:
        return 0
    dropped = 0
    for conversation_id, payload in db.execute("select conversation_id, lines from memory_summaries").fetchall():
        items = json.loads(payload)
        kept = [item for item in items if item.get("m") not in message_ids]
        if len(kept) != len(items):
            dropped += len(items) - len(kept)
            db.execute(
                "update memory_summaries set lines = ? where conversation_id = ?", [json.dumps(kept), conversation_id]
            )
    return dropped
