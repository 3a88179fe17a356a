"""Tables of community insight: one row per scored member message, one per bot reply (its outcome and how
long the member waited), and the alerts already sent.

`insight_sentiment` repeats a few columns of the message (conversation, member, time) and the offensive score
the gate stored, so a report over a million messages reads one narrow table instead of joining four.

`insight_sentiment` rows reference `messages(id)` with ON DELETE CASCADE, so whatever deletes a message
(/forgetme, retention) takes its sentiment with it.
"""

from __future__ import annotations

import sqlite_utils

from bot.insight import privacy
from bot.migration_set import MigrationSet

insight_migrations = MigrationSet("insight")
privacy.register()  # the tables below say how /forgetme and the export treat them


@insight_migrations
def m001_sentiment_and_alerts(db: sqlite_utils.Database) -> None:
    db.execute(
        """create table insight_sentiment (
               message_id integer primary key references messages(id) on delete cascade,
               conversation_id integer not null,
               user_id integer,
               created_at text not null,
               offensive real,
               label text not null,
               negative real not null,
               neutral real not null,
               positive real not null,
               language text not null default '',
               model text not null default '',
               scored_at text not null
           )"""
    )
    # Covering indexes: a report reads only these, in order, never the table.
    db.execute(
        "create index insight_sentiment_time on insight_sentiment "
        "(created_at, conversation_id, user_id, label, offensive)"
    )
    db.execute("create index insight_sentiment_member on insight_sentiment (conversation_id, user_id, created_at)")
    db.execute(
        """create table insight_replies (
               message_id integer primary key references messages(id) on delete cascade,
               conversation_id integer not null,
               created_at text not null,
               question_id integer references messages(id) on delete set null,
               outcome text not null default '',
               response_s real
           )"""
    )
    db.execute(
        "create index insight_replies_time on insight_replies (created_at, conversation_id, outcome, response_s)"
    )
    db.table("insight_alerts").create(
        {
            "id": int,
            "kind": str,
            "conversation_id": int,
            "fired_at": str,
            "summary": str,
            "message_ids": str,
        },
        pk="id",
        not_null={"kind", "conversation_id", "fired_at"},
    )
    db.table("insight_alerts").create_index(["kind", "conversation_id", "fired_at"])
