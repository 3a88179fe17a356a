"""Closing the store on a normal stop: what worker threads wrote is checkpointed into the database file at once,
and their connections close as soon as the threads have ended (a second `close()` after the event loop)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bot.messages import Author, ConversationKey
from bot.store import Store


def write_from_a_worker_thread(store: Store, text: str) -> None:
    conversation = store.conversation_id(ConversationKey("console", "chat-1"))
    user = store.upsert_user("console", Author("user-1", display_name="Ann"))
    store.insert_message(conversation, "user", text, "received", user_id=user)


def rows_in_the_main_file_alone(path: Path) -> list[str]:
    """The messages in the database file itself, ignoring any WAL (read from a copy without it)."""
    copy = path.with_name("copy.db")
    copy.write_bytes(path.read_bytes())
    with sqlite3.connect(copy) as db:
        return [row[0] for row in db.execute("select text from messages")]


def test_a_close_inside_the_loop_checkpoints_and_a_close_after_it_closes_the_workers_connections(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.db"
    store = Store.open(path)

    async def serve() -> None:
        await asyncio.to_thread(write_from_a_worker_thread, store, "written by a worker thread")
        store.close()  # as `app.stop()` does: the loop's worker thread is still alive, its connection open

    asyncio.run(serve())
    assert rows_in_the_main_file_alone(path) == ["written by a worker thread"]  # checkpointed at the close
    wal = tmp_path / "bot.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    store.close()  # after the loop (`socialbot run`, `ask`): its workers have ended, so the last connection closes
    assert not wal.exists()  # SQLite removes the WAL when the last connection closes
    with sqlite3.connect(path) as db:
        assert db.execute("pragma integrity_check").fetchone() == ("ok",)


def test_a_close_with_no_other_thread_needs_no_checkpoint_and_leaves_no_wal(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    write_from_a_worker_thread(store, "written here")
    store.close()
    assert not (tmp_path / "bot.db-wal").exists()
    assert rows_in_the_main_file_alone(tmp_path / "bot.db") == ["written here"]
