"""Tables of the memory feature: stated facts and rolling conversation summaries."""

from __future__ import annotations

import sqlite_utils

from bot.migration_set import MigrationSet

memory_migrations = MigrationSet("memory")


@memory_migrations
def m001_facts_and_summaries(db: sqlite_utils.Database) -> None:
    # Scope is (platform, platform_user_id, community): a fact is never read outside the chat it was told in.
    db.table("memory_facts").create(
        {
            "id": int,
            "platform": str,
            "platform_user_id": str,
            "community": str,
            "kind": str,
            "value": str,
            "language": str,
            "source_message_id": int,
            "source_text": str,
            "created_at": str,
        },
        pk="id",
        not_null={"platform", "platform_user_id", "community", "kind", "value", "created_at"},
    )
    db.table("memory_facts").create_index(["platform", "platform_user_id", "community"])
    db.table("memory_summaries").create(
        {"conversation_id": int, "upto_message_id": int, "lines": str, "updated_at": str},
        pk="conversation_id",
        not_null={"upto_message_id", "lines", "updated_at"},
    )
