"""Tables of content suggestions and scheduled posting: `drafts`, `schedules` and the `posts` outbox.

`posts` has one row per planned run slot of a schedule; UNIQUE(schedule_id, slot_time) is what makes a
slot claimable only once, whatever crashes or restarts happen around it.
"""

from __future__ import annotations

import sqlite_utils

from bot.migration_set import MigrationSet

scheduling_migrations = MigrationSet("scheduling")


@scheduling_migrations
def m001_drafts_schedules_posts(db: sqlite_utils.Database) -> None:
    db.table("drafts").create(
        {
            "id": int,
            "topic": str,
            "text": str,
            "status": str,
            "angle": str,
            "seed": int,
            "moderation": str,
            "created_by": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"text", "status", "created_at", "updated_at"},
        defaults={"topic": "", "angle": "", "moderation": "", "created_by": ""},
    )
    db.table("drafts").create_index(["status", "id"])
    db.table("schedules").create(
        {
            "id": int,
            "draft_id": int,
            "text": str,
            "platform": str,
            "chat_id": str,
            "thread_id": str,
            "kind": str,
            "spec": str,
            "timezone": str,
            "status": str,
            "created_by": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        foreign_keys=[("draft_id", "drafts", "id")],
        not_null={"text", "platform", "chat_id", "kind", "spec", "timezone", "status", "created_at"},
        defaults={"thread_id": "", "created_by": ""},
    )
    db.table("schedules").create_index(["status"])
    db.table("posts").create(
        {
            "id": int,
            "schedule_id": int,
            "slot_time": str,
            "state": str,
            "attempts": int,
            "not_before": str,
            "last_error": str,
            "platform_message_ids": str,
            "idempotency_key": str,
            "coalesced": int,
            "created_at": str,
            "updated_at": str,
            "sent_at": str,
            "reported_at": str,
        },
        pk="id",
        foreign_keys=[("schedule_id", "schedules", "id")],
        not_null={"schedule_id", "slot_time", "state", "attempts", "coalesced", "created_at", "updated_at"},
        defaults={"attempts": 0, "coalesced": 0, "last_error": "", "idempotency_key": ""},
    )
    db.table("posts").create_index(["schedule_id", "slot_time"], unique=True)
    db.table("posts").create_index(["state"])
    # Recent-topic extraction reads only the last days of `messages`; this keeps that a range scan.
    db.execute("create index if not exists idx_messages_created_at on messages(created_at)")


@scheduling_migrations
def m002_posts_delivered_chars(db: sqlite_utils.Database) -> None:
    """How much of a long post an interrupted delivery already posted, so a retry sends only the rest."""
    db.table("posts").add_column("delivered_chars", int, not_null_default=0)
