"""Append-only schema migrations, recorded in the database so an old file upgrades in place.

Each feature owns a named `MigrationSet` (see `bot.migration_set`); its steps are numbered functions applied
once, in order, and recorded in `_migrations`. Never edit a released step: add a new one. Feature sets come
from the features' `FeatureSpec.migrations` (found through their entry points), applied after core.
"""

from __future__ import annotations

import sqlite_utils

from bot.migration_set import MigrationSet

core = MigrationSet("core")


@core
def m001_initial(db: sqlite_utils.Database) -> None:
    db.table("users").create(
        {
            "id": int,
            "platform": str,
            "platform_user_id": str,
            "display_name": str,
            "username": str,
            "is_bot": int,
            "first_seen": str,
            "last_seen": str,
        },
        pk="id",
        not_null={"platform", "platform_user_id"},
    )
    db.table("users").create_index(["platform", "platform_user_id"], unique=True)
    db.table("conversations").create(
        {"id": int, "platform": str, "chat_id": str, "thread_id": str, "created_at": str, "reset_at": int},
        pk="id",
        not_null={"platform", "chat_id", "thread_id"},
        defaults={"thread_id": "", "reset_at": 0},
    )
    db.table("conversations").create_index(["platform", "chat_id", "thread_id"], unique=True)
    db.table("messages").create(
        {
            "id": int,
            "conversation_id": int,
            "user_id": int,
            "role": str,
            "text": str,
            "created_at": str,
            "platform_message_id": str,
            "reply_to_message_id": str,
            "status": str,
        },
        pk="id",
        foreign_keys=[("conversation_id", "conversations", "id"), ("user_id", "users", "id")],
        not_null={"conversation_id", "role", "text", "created_at", "status"},
        defaults={"platform_message_id": "", "reply_to_message_id": ""},
    )
    db.table("messages").create_index(["conversation_id", "id"])
    db.table("messages").create_index(["conversation_id", "platform_message_id"])
    db.table("messages").create_index(["status"])
    db.table("moderation_decisions").create(
        {
            "id": int,
            "message_id": int,
            "direction": str,
            "decision": str,
            "reasons": str,
            "scores": str,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("message_id", "messages", "id")],
    )
    db.table("moderation_decisions").create_index(["message_id"])


@core
def m002_edits_state_and_delivery(db: sqlite_utils.Database) -> None:
    """Edited-message tracking, delivery bookkeeping for replies, and a key/value table for adapters."""
    db.table("messages").add_column("edited_at", str)
    db.table("messages").add_column("source", str)
    db.table("messages").add_column("delivery_attempts", int, not_null_default=0)
    db.table("messages").add_column("delivery_error", str)
    db.table("state").create({"key": str, "value": str, "updated_at": str}, pk="key")
    db.table("processed_events").create(
        {"platform": str, "event_id": str, "processed_at": str}, pk=("platform", "event_id")
    )


@core
def m003_reply_details(db: sqlite_utils.Database) -> None:
    """What produced a reply (sources and scores of a knowledge-base answer, token counts...)."""
    db.table("messages").add_column("details", str)


@core
def m004_chat_settings_and_audit_log(db: sqlite_utils.Database) -> None:
    """Per-chat settings and the audit log belong to the core (databases from before have them from the
    rules set's first step, which now leaves them to this one)."""
    if not db.table("chat_settings").exists():
        db.table("chat_settings").create(
            {
                "platform": str,
                "chat_id": str,
                "thread_id": str,
                "reply_mode": str,
                "persona": str,
                "language": str,
                "strictness": str,
                "updated_by": str,
                "updated_at": str,
            },
            pk=("platform", "chat_id", "thread_id"),
        )
    if not db.table("audit_log").exists():
        db.table("audit_log").create(
            {
                "id": int,
                "actor": str,
                "action": str,
                "target": str,
                "before": str,
                "after": str,
                "created_at": str,
            },
            pk="id",
            not_null={"actor", "action", "created_at"},
        )
        db.table("audit_log").create_index(["action", "id"])
        db.table("audit_log").create_index(["actor"])


def all_migration_sets() -> list[MigrationSet]:
    """Core first, then every installed feature's set (`FeatureSpec.migrations`), by feature name."""
    from bot.entry_points import FEATURE_GROUP, load_declared

    declared = sorted(load_declared(FEATURE_GROUP), key=lambda loaded: loaded[0].name)
    feature_sets = [getattr(spec, "migrations", None) for _, spec in declared]
    return [core, *(migration_set for migration_set in feature_sets if isinstance(migration_set, MigrationSet))]


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Bring the database to the newest schema; returns the steps applied."""
    applied: list[str] = []
    for migration_set in all_migration_sets():
        applied.extend(migration_set.apply(db))
    return applied
