"""Indexes the dashboard's pages need to stay fast on a large database (member history, today's numbers)."""

from __future__ import annotations

import sqlite_utils

from bot.migration_set import MigrationSet

dashboard_migrations = MigrationSet("dashboard")


@dashboard_migrations
def m001_history_and_day_indexes(db: sqlite_utils.Database) -> None:
    db.execute("create index if not exists idx_messages_user_id_id on messages (user_id, id)")
    db.execute("create index if not exists idx_messages_created_at on messages (created_at)")
    db.execute("create index if not exists idx_users_last_seen on users (last_seen)")
