"""Complete by construction: every table that refers to a member is exported and forgotten.

The first test walks the migrated schema: a new table with a member column (user id, platform user id,
message id, or an actor like `created_by`) fails it until `bot/privacy/registry.py` declares what export and
forget do with it. The second fills every such table with rows of two members, forgets one, and checks
nothing of theirs is left (beyond what a declaration keeps, with its reason) and nothing of the other changed.
"""

from __future__ import annotations

import json
from pathlib import Path

from bot.memory.summary import ConversationSummaries
from bot.messages import Author, ConversationKey
from bot.privacy.export import export_member
from bot.privacy.forget import forget_member
from bot.privacy.member import Member
from bot.privacy.registry import DECLARED, member_columns, policies_for, tables
from bot.store import Store

ANNA = Member("telegram", "1001")
BOB = Member("telegram", "2002")


def test_every_table_with_a_member_column_declares_how_it_is_exported_and_forgotten(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    undeclared = []
    for table in tables(store.db):
        declared = {column for policy in DECLARED if policy.table == table for column in policy.columns}
        for column, holds in member_columns(store.db, table).items():
            if column not in declared:
                undeclared.append(f"{table}.{column} ({holds})")
    store.close()
    assert undeclared == [], (
        "tables refer to members without a TablePolicy in bot/privacy/registry.py (say whether forget "
        f"deletes, anonymises or keeps them, and why): {undeclared}"
    )


def test_a_table_added_later_is_still_covered_by_what_its_columns_hold(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    store.db.table("insight_scores").create(
        {"id": int, "user_id": int, "score": float}, pk="id", foreign_keys=[("user_id", "users", "id")]
    )
    inferred = [policy for policy in policies_for(store.db) if policy.table == "insight_scores"]
    store.close()
    assert [(policy.columns, policy.forget, policy.inferred) for policy in inferred] == [(("user_id",), "delete", True)]


def _value(column_type: str) -> object:
    kind = column_type.upper()
    if "INT" in kind:
        return 0
    if "REAL" in kind or "FLOA" in kind:
        return 0.5
    if "BLOB" in kind:
        return b"\x00"
    return "x"


def _fill(store: Store, member: Member) -> None:
    """A row of `member` in every table with a member column, plus a message, a reply and a summary line."""
    user_id = store.upsert_user(member.platform, Author(member.platform_user_id, "Name " + member.platform_user_id))
    conversation = store.conversation_id(ConversationKey(member.platform, "chat-" + member.platform_user_id))
    message_id = store.insert_message(
        conversation, "user", "my order is 4451", "answered", user_id=user_id, platform_message_id="p" + str(user_id)
    )
    store.insert_message(conversation, "assistant", "noted 4451", "sent", reply_to_message_id="p" + str(user_id))
    store.record_moderation(message_id, "in", "allow", [], {})
    values = {"user": user_id, "platform_user": member.platform_user_id, "message": message_id, "actor": member.actor}
    with store.transaction() as db:
        for table in tables(db):
            if table in ("users", "messages", "moderation_decisions"):
                continue
            columns = member_columns(db, table)
            if not columns:
                continue
            row: dict[str, object] = {}
            foreign = {key.column for key in db.table(table).foreign_keys}
            for column in db.table(table).columns:
                if column.name in columns:
                    row[column.name] = values[columns[column.name]]
                elif column.name == "platform":
                    row[column.name] = member.platform
                elif column.name == "conversation_id":
                    row[column.name] = conversation
                elif column.name in foreign or (column.is_pk and "INT" in (column.type or "").upper()):
                    continue
                elif (column.type or "TEXT").upper() == "TEXT":
                    row[column.name] = f"x-{member.platform_user_id}"
                else:
                    row[column.name] = _value(column.type or "")
            db.table(table).insert(row)
    ConversationSummaries(store).store.db.table("memory_summaries").upsert(
        {
            "conversation_id": conversation,
            "upto_message_id": message_id,
            "lines": json.dumps([{"m": message_id, "u": user_id, "t": "my order is 4451"}]),
            "updated_at": "x",
        },
        pk="conversation_id",
    )


def _without_time(document: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in document.items() if key != "exported_at"}


def test_forgetting_a_member_leaves_nothing_of_theirs_and_changes_nothing_of_others(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    store.db.table("insight_scores").create(
        {"id": int, "user_id": int, "score": float}, pk="id", foreign_keys=[("user_id", "users", "id")]
    )
    _fill(store, ANNA)
    _fill(store, BOB)
    before = export_member(store, ANNA)
    member_tables = {table for table in tables(store.db) if member_columns(store.db, table)}
    assert member_tables <= set(before["tables"]), "the export misses tables that hold the member's rows"
    assert "memory_summaries" in before["tables"]
    bob_before = _without_time(export_member(store, BOB))

    changed = forget_member(store, ANNA)

    after = export_member(store, ANNA)
    kept = {policy.table for policy in DECLARED if policy.forget == "keep"}
    assert changed["messages"] == 2 and changed["insight_scores"] == 1
    # Only what a declaration keeps on purpose (a running mute) still names the member; anonymised rows
    # (an automod record without the words) still match by the id they are kept for.
    leftover = set(after["tables"]) - kept - {"automod_actions"}
    assert leftover == set(), f"rows still name the forgotten member: {leftover}"
    assert all(row["text"] == "" for row in after["tables"].get("automod_actions", []))
    assert _without_time(export_member(store, BOB)) == bob_before
    store.close()
