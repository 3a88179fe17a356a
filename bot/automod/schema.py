"""Automod tables: every action taken, and admins' corrections kept as labelled training examples."""

from __future__ import annotations

import sqlite_utils

from bot.migration_set import MigrationSet

migrations = MigrationSet("automod")


@migrations
def m001_actions_and_feedback(db: sqlite_utils.Database) -> None:
    db.table("automod_actions").create(
        {
            "id": int,
            "conversation_id": int,
            "message_id": int,
            "platform_message_id": str,
            "platform_user_id": str,
            "level": int,
            "actions": str,  # JSON list of action names
            "reasons": str,
            "scores": str,
            "text": str,
            "created_at": str,
            "undone_at": str,
            "undone_by": str,
            "reversal_pending": int,
            "wrong": int,
        },
        pk="id",
        defaults={"reversal_pending": 0, "wrong": 0},
    )
    db.table("automod_actions").create_index(["conversation_id", "platform_user_id", "created_at"])
    db.table("automod_actions").create_index(["reversal_pending"])
    db.table("moderation_feedback").create(
        {"id": int, "text": str, "label": str, "source": str, "reported_by": str, "created_at": str},
        pk="id",
    )
