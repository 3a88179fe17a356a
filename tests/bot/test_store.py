"""The store: WAL, indexes for every lookup, migrations that upgrade an old database in place."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
import sqlite_utils

from bot.messages import Author, ConversationKey
from bot.migrations import core
from bot.store import Store, StoreError


def test_new_database_is_in_wal_mode_with_lookup_indexes(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    assert store.db.journal_mode == "wal"
    indexed = {tuple(index.columns) for index in store.db["messages"].indexes}
    assert ("conversation_id", "platform_message_id") in indexed
    assert ("conversation_id", "id") in indexed
    assert ("platform", "chat_id", "thread_id") in {tuple(i.columns) for i in store.db["conversations"].indexes}
    assert ("platform", "platform_user_id") in {tuple(i.columns) for i in store.db["users"].indexes}
    store.close()


def test_old_schema_is_upgraded_in_place_keeping_its_messages(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    first_name, first_step = core.steps[0]
    first_step(old)
    old["_migrations"].insert(
        {"migration_set": "core", "name": first_name, "applied_at": "2026-01-01"}, pk=("migration_set", "name")
    )
    old["conversations"].insert(
        {"platform": "telegram", "chat_id": "7", "thread_id": "", "created_at": "x", "reset_at": 0}
    )
    old["messages"].insert(
        {"conversation_id": 1, "role": "user", "text": "kept", "created_at": "x", "status": "answered"}
    )
    old.conn.close()

    store = Store.open(path)
    applied = {row["name"] for row in store.db.query("select name from _migrations")}
    assert {name for name, _ in core.steps} <= applied
    assert [m.text for m in store.messages_for(1)] == ["kept"]
    assert store.get_state("anything") is None  # table added by a later migration
    store.close()


def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    Store.open(tmp_path / "bot.db").close()
    store = Store.open(tmp_path / "bot.db")
    count = store.db.execute("select count(*) from _migrations").fetchone()[0]
    assert count == len(store.db.execute("select distinct migration_set, name from _migrations").fetchall())
    store.close()


def test_unopenable_database_names_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match=str(blocker)):
        Store.open(blocker / "bot.db")


def test_conversations_are_keyed_by_platform_chat_and_thread(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    a = store.conversation_id(ConversationKey("telegram", "1"))
    b = store.conversation_id(ConversationKey("telegram", "1", "topic-9"))
    c = store.conversation_id(ConversationKey("discord", "1"))
    assert len({a, b, c}) == 3
    assert store.conversation_id(ConversationKey("telegram", "1")) == a
    store.close()


def test_claim_event_is_true_once(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    assert store.claim_event("telegram", "100") is True
    assert store.claim_event("telegram", "100") is False
    store.close()


def test_deleting_a_user_removes_their_messages(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    conversation = store.conversation_id(ConversationKey("console", "c"))
    user = store.upsert_user("console", Author("u1", "Ann"))
    store.insert_message(conversation, "user", "private stuff", "answered", user_id=user)
    assert store.delete_user_data("console", "u1") == 1
    assert store.messages_for(conversation) == []
    store.close()


def test_messages_survive_a_crash_without_close(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    store = Store.open(path)
    conversation = store.conversation_id(ConversationKey("console", "c"))
    store.insert_message(conversation, "user", "written before the crash", "received")
    # No close(): a second connection (as after a restart) must see the committed row.
    other = sqlite3.connect(path)
    assert other.execute("select text from messages").fetchall() == [("written before the crash",)]
    other.close()
    store.close()


def test_reads_from_worker_threads_never_break_a_writers_transaction(tmp_path: Path) -> None:
    """sqlite-utils runs each query() in a savepoint; from another thread it must wait for open transactions."""
    store = Store.open(tmp_path / "bot.db")
    stop = threading.Event()
    failures: list[BaseException] = []

    def read_until_stopped() -> None:
        try:
            while not stop.is_set():
                list(store.db.query("select count(*) as n from state"))
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    readers = [threading.Thread(target=read_until_stopped) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for index in range(400):
            store.set_state(f"key-{index}", "value")  # an upsert: a savepoint inside the store's transaction
    finally:
        stop.set()
        for reader in readers:
            reader.join()
        store.close()
    assert failures == []


def test_writers_in_many_threads_all_commit_and_never_see_each_others_half_transactions(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    conversation = store.conversation_id(ConversationKey("console", "c"))
    failures: list[BaseException] = []
    torn: list[int] = []

    def write_pairs(worker: int) -> None:
        try:
            for index in range(60):
                with store.transaction() as db:
                    first = db.execute(
                        "insert into messages (conversation_id, role, text, created_at, status) "
                        "values (?, 'user', ?, 'x', 'received')",
                        [conversation, f"{worker}-{index}-a"],
                    ).lastrowid
                    store.set_state(f"last-{worker}", str(first))  # nested: joins this transaction
                    db.execute(
                        "insert into messages (conversation_id, role, text, created_at, status) "
                        "values (?, 'user', ?, 'x', 'received')",
                        [conversation, f"{worker}-{index}-b"],
                    )
        except BaseException as exc:
            failures.append(exc)

    def read_pairs() -> None:
        try:
            for _ in range(200):
                count = next(store.db.query("select count(*) as n from messages"))["n"]
                if count % 2:
                    torn.append(count)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write_pairs, args=(worker,)) for worker in range(3)]
    threads += [threading.Thread(target=read_pairs) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert torn == []
    assert store.db.execute("select count(*) from messages").fetchone()[0] == 3 * 60 * 2
    store.close()


def test_a_failed_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    with pytest.raises(RuntimeError), store.transaction():
        store.set_state("half", "written")
        raise RuntimeError("interrupted")
    assert store.get_state("half") is None
    store.close()


def test_memory_database_is_fresh_and_shared_by_threads() -> None:
    store = Store.open(":memory:")
    store.set_state("seen", "yes")
    seen: list[str | None] = []
    reader = threading.Thread(target=lambda: seen.append(store.get_state("seen")))
    reader.start()
    reader.join()
    assert seen == ["yes"]
    store.close()
    fresh = Store.open(":memory:")
    assert fresh.get_state("seen") is None
    fresh.close()
