"""The `rules` migration set: auto-reply rules and mutes (per-chat settings and the audit log are the core's)."""

from __future__ import annotations

import sqlite_utils

from bot.migration_set import MigrationSet

rules_migrations = MigrationSet("rules")


@rules_migrations
def m001_rules_settings_mutes_audit(db: sqlite_utils.Database) -> None:
    db.table("rules").create(
        {
            "id": int,
            "name": str,
            "trigger_kind": str,
            "patterns": str,  # JSON list of keywords, one regex, or example phrasings
            "match_mode": str,
            "threshold": float,
            "response_kind": str,
            "response": str,
            "platform": str,  # "" = every platform
            "chats": str,  # JSON list of chat ids; [] = every chat
            "priority": int,
            "cooldown_s": float,
            "enabled": int,
            "created_by": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"trigger_kind", "patterns", "response_kind", "response"},
        defaults={"platform": "", "chats": "[]", "priority": 0, "enabled": 1, "match_mode": "any"},
    )
    # chat_settings and audit_log: created by the core (core m004), which runs before every feature's set.
    db.table("mutes").create(
        {
            "platform": str,
            "chat_id": str,  # "" = every chat of the platform
            "user_id": str,
            "until": str,  # ISO time; "" = until unmuted
            "muted_by": str,
            "created_at": str,
        },
        pk=("platform", "chat_id", "user_id"),
    )
