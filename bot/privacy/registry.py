"""Which rows of which table are about a member, and what export and forget do with them.

Every table that refers to a member declares a `TablePolicy` here: a SQL condition selecting the member's
rows, and whether forgetting deletes them, anonymises some columns, or keeps them (with the reason). A
table added later without a declaration is still covered when its columns say how (`infer_policies`): an
integer `user_id`, a `platform_user_id`, a `message_id`, or an actor column such as `created_by`.
`tests/bot/privacy/test_schema_coverage.py` walks the migrated schema and fails on a member column that neither
a declaration nor the inference covers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import sqlite_utils

ForgetAction = Literal["delete", "anonymise", "keep"]

# Sub-selects reused by conditions. Parameters: :user_id (users.id), :platform, :platform_user_id, :actor.
MEMBER_MESSAGES = "select id from messages where user_id = :user_id"
REPLIES_TO_MEMBER = (
    "select r.id from messages r join messages m on m.conversation_id = r.conversation_id "
    "and m.platform_message_id = r.reply_to_message_id where m.user_id = :user_id and r.role = 'assistant' "
    "and r.reply_to_message_id != ''"
)
PLATFORM_CONVERSATIONS = "select id from conversations where platform = :platform"
ACTOR_COLUMNS = frozenset(
    {"actor", "created_by", "reported_by", "updated_by", "muted_by", "closed_by", "undone_by", "requested_by"}
)


@dataclass(frozen=True)
class TablePolicy:
    """How one table's rows about a member are found (`where`), exported and forgotten."""

    table: str
    where: str
    forget: ForgetAction
    # Columns covered by `where` (what the schema test checks), and for "anonymise", the new values.
    columns: tuple[str, ...] = ()
    anonymise: Mapping[str, object] = field(default_factory=dict)
    reason: str = ""
    # Rows the core store deletes itself on /forgetme (users, their messages and moderation decisions).
    core: bool = False
    # Deletion order: lower first (children before parents).
    order: int = 50
    inferred: bool = False


DECLARED: list[TablePolicy] = [
    TablePolicy("users", "id = :user_id", "delete", ("id", "platform_user_id"), core=True, order=90),
    TablePolicy("messages", "user_id = :user_id", "delete", ("user_id",), core=True, order=80),
    TablePolicy(
        "messages", f"id in ({REPLIES_TO_MEMBER})", "delete", (), reason="the bot's replies to the member", order=70
    ),
    TablePolicy(
        "moderation_decisions", f"message_id in ({MEMBER_MESSAGES})", "delete", ("message_id",), core=True, order=10
    ),
    TablePolicy("moderation_decisions", f"message_id in ({REPLIES_TO_MEMBER})", "delete", (), order=10),
    TablePolicy(
        "automod_actions",
        f"(platform_user_id = :platform_user_id and conversation_id in ({PLATFORM_CONVERSATIONS})) "
        f"or message_id in ({MEMBER_MESSAGES})",
        "anonymise",
        ("platform_user_id", "message_id"),
        {"text": "", "message_id": None},
        reason="the record of a moderation action stays, without the member's words",
    ),
    TablePolicy("automod_actions", "undone_by = :actor", "anonymise", ("undone_by",), {"undone_by": ""}),
    TablePolicy("moderation_feedback", "reported_by = :actor", "anonymise", ("reported_by",), {"reported_by": ""}),
    TablePolicy("tickets", "user_id = :user_id", "delete", ("user_id",), order=60),
    TablePolicy("tickets", "closed_by = :actor", "anonymise", ("closed_by",), {"closed_by": ""}),
    TablePolicy("rules", "created_by = :actor", "anonymise", ("created_by",), {"created_by": ""}),
    TablePolicy("chat_settings", "updated_by = :actor", "anonymise", ("updated_by",), {"updated_by": ""}),
    TablePolicy(
        "mutes",
        "platform = :platform and user_id = :platform_user_id",
        "keep",
        ("user_id",),
        reason="a running mute is a moderation measure that ends by itself; forgetting must not lift it",
    ),
    TablePolicy("mutes", "muted_by = :actor", "anonymise", ("muted_by",), {"muted_by": ""}),
    TablePolicy(
        "audit_log",
        "actor = :actor",
        "anonymise",
        ("actor",),
        {"actor": "deleted-user"},
        reason="the log keeps what was done, not by whom",
    ),
    TablePolicy("audit_log", "target = :actor", "anonymise", ("target",), {"target": "deleted-user"}),
    TablePolicy("drafts", "created_by = :actor", "anonymise", ("created_by",), {"created_by": ""}),
    TablePolicy("schedules", "created_by = :actor", "anonymise", ("created_by",), {"created_by": ""}),
    TablePolicy(
        "memory_facts",
        "platform = :platform and platform_user_id = :platform_user_id",
        "delete",
        ("platform_user_id",),
        order=20,
    ),
    # Summary lines are JSON tagged with their writer: forget removes only the member's lines (forget.py).
    TablePolicy(
        "memory_summaries",
        "exists (select 1 from json_each(lines) where json_extract(value, '$.u') = :user_id)",
        "anonymise",
        reason="only the member's lines leave a conversation summary",
    ),
]


def member_columns(db: sqlite_utils.Database, table: str) -> dict[str, str]:
    """The columns of `table` that refer to a member, each with what it holds: user, platform_user,
    message or actor."""
    found: dict[str, str] = {}
    table_ = db.table(table)
    foreign = {key.column: key.other_table for key in table_.foreign_keys}
    for column in table_.columns:
        name, kind = column.name.lower(), (column.type or "").upper()
        if foreign.get(column.name) == "users" or (name in ("user_id", "member_id") and "INT" in kind):
            found[column.name] = "user"
        elif name in ("platform_user_id", "user_id", "member_id", "author_id"):
            found[column.name] = "platform_user"
        elif foreign.get(column.name) == "messages" or name == "message_id":
            found[column.name] = "message"
        elif name in ACTOR_COLUMNS or name.endswith("_by"):
            found[column.name] = "actor"
    if table == "users":
        found["id"] = "user"
    return found


def infer_policies(db: sqlite_utils.Database, table: str, columns: Mapping[str, str]) -> list[TablePolicy]:
    """Policies for member columns no declaration covers, from what the columns hold."""
    names = {column.name for column in db.table(table).columns}
    policies = []
    for column, holds in columns.items():
        if holds == "user":
            policies.append(TablePolicy(table, f'"{column}" = :user_id', "delete", (column,), inferred=True))
        elif holds == "platform_user":
            scope = ""
            if "platform" in names:
                scope = " and platform = :platform"
            elif "conversation_id" in names:
                scope = f" and conversation_id in ({PLATFORM_CONVERSATIONS})"
            policies.append(
                TablePolicy(table, f'"{column}" = :platform_user_id{scope}', "delete", (column,), inferred=True)
            )
        elif holds == "message":
            policies.append(
                TablePolicy(table, f'"{column}" in ({MEMBER_MESSAGES})', "delete", (column,), order=10, inferred=True)
            )
        else:
            policies.append(
                TablePolicy(table, f'"{column}" = :actor', "anonymise", (column,), {column: ""}, inferred=True)
            )
    return policies


def tables(db: sqlite_utils.Database) -> list[str]:
    """Ordinary tables (no SQLite internals, no full-text shadow tables, no migrations bookkeeping)."""
    names = []
    for name in db.table_names():
        if name.startswith(("sqlite_", "_")) or db[name].schema.upper().startswith("CREATE VIRTUAL"):
            continue
        if any(name.startswith(f"{virtual}_") for virtual in _virtual_tables(db)):
            continue
        names.append(name)
    return names


def _virtual_tables(db: sqlite_utils.Database) -> list[str]:
    return [row[0] for row in db.execute("select name from sqlite_master where sql like 'CREATE VIRTUAL%'")]


def policies_for(db: sqlite_utils.Database) -> list[TablePolicy]:
    """Every policy that applies to this database: the declared ones for tables present, then inferred ones
    for member columns no declaration covers."""
    present = set(tables(db))
    result = [policy for policy in DECLARED if policy.table in present]
    for table in sorted(present):
        covered = {column for policy in result if policy.table == table for column in policy.columns}
        missing = {column: holds for column, holds in member_columns(db, table).items() if column not in covered}
        result.extend(infer_policies(db, table, missing))
    return result
