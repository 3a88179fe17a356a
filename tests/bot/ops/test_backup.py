"""Backups are consistent snapshots taken while the bot writes; restores need the bot stopped and keep the old copy."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli.main import main
from bot.messages import ConversationKey
from bot.ops.backup import BackupError, backup_database, restore_database
from bot.store import Store


def _message_ids(database: Path) -> list[int]:
    connection = sqlite3.connect(database)
    try:
        return [row[0] for row in connection.execute("select id from messages order by id")]
    finally:
        connection.close()


class Writer(threading.Thread):
    """Inserts messages through the bot's own Store as fast as it can, like a busy bot."""

    def __init__(self, store: Store) -> None:
        super().__init__(daemon=True)
        self.store = store
        self.conversation = store.conversation_id(ConversationKey("telegram", "42"))
        self.written = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.store.insert_message(self.conversation, "user", f"message {self.written}", "received")
            self.written += 1

    def wait_for(self, count: int, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.written < count:
            assert time.monotonic() < deadline, f"writer wrote only {self.written} rows"
            time.sleep(0.005)


def test_a_backup_taken_during_writes_is_a_complete_consistent_snapshot(tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    store = Store.open(database)
    writer = Writer(store)
    writer.start()
    try:
        writer.wait_for(200)
        result = backup_database(database, tmp_path / "backups" / "bot.backup.db")
        written_at_backup_end = writer.written
        writer.wait_for(written_at_backup_end + 50)  # the bot kept writing after the backup
    finally:
        writer.halt.set()
        writer.join(10)
        store.close()
    assert result.integrity == "ok"
    ids = _message_ids(result.path)
    assert len(ids) >= 200
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # no row missing inside the snapshot
    # +1: a row committed just before the snapshot whose counter the writer had not bumped yet.
    assert len(ids) <= written_at_backup_end + 1 <= len(_message_ids(database))
    assert not Path(f"{result.path}-wal").exists()  # one self-contained file
    assert not list(result.path.parent.glob("*.partial"))


def test_backup_refuses_a_missing_database_and_overwriting_itself(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no database there"):
        backup_database(tmp_path / "none.db", tmp_path / "out.db")
    database = tmp_path / "bot.db"
    Store.open(database).close()
    with pytest.raises(BackupError, match="must not overwrite"):
        backup_database(database, database)


def test_restore_replaces_the_database_and_keeps_the_replaced_one(tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    store = Store.open(database)
    conversation = store.conversation_id(ConversationKey("discord", "7"))
    store.insert_message(conversation, "user", "before the backup", "received")
    store.close()
    backup = backup_database(database, tmp_path / "backup.db").path
    store = Store.open(database)
    store.insert_message(conversation, "user", "after the backup (lost by the restore)", "received")
    store.close()

    result = restore_database(backup, database)

    reopened = Store.open(database)
    try:
        texts = [message.text for message in reopened.messages_for(conversation)]
    finally:
        reopened.close()
    assert texts == ["before the backup"]
    assert result.previous_copy is not None
    assert len(_message_ids(result.previous_copy)) == 2


def test_restore_is_refused_while_the_bot_has_the_database_open(tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    store = Store.open(database)
    try:
        backup = backup_database(database, tmp_path / "backup.db").path
        store.insert_message(store.conversation_id(ConversationKey("cli", "x")), "user", "kept", "received")
        with pytest.raises(BackupError, match="stop the bot"):
            restore_database(backup, database)
    finally:
        store.close()
    assert len(_message_ids(database)) == 1  # untouched


def test_restore_refuses_files_that_are_not_socialbot_backups(tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    Store.open(database).close()
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(BackupError, match="not an SQLite database"):
        restore_database(garbage, database)
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("create table t(x)").connection.close()
    with pytest.raises(BackupError, match="not a socialbot database"):
        restore_database(foreign, database)


def test_the_cli_backs_up_and_restores_with_the_configured_database(tmp_path: Path) -> None:
    config = tmp_path / "socialbot.toml"
    config.write_text('[bot]\ndatabase = "data/bot.db"\n', encoding="utf-8")
    database = tmp_path / "data" / "bot.db"
    store = Store.open(database)
    conversation = store.conversation_id(ConversationKey("cli", "1"))
    store.insert_message(conversation, "user", "hello", "received")
    store.close()
    runner = CliRunner()
    backup_file = tmp_path / "nightly.db"
    made = runner.invoke(main, ["--config", str(config), "backup", "--out", str(backup_file), "--json"])
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["out"] == str(backup_file)
    database.unlink()  # the disk lost it
    restored = runner.invoke(main, ["--config", str(config), "restore", str(backup_file), "--yes"])
    assert restored.exit_code == 0, restored.output
    assert _message_ids(database) == [1]
    refused = runner.invoke(main, ["--config", str(config), "restore", str(tmp_path / "missing.db"), "--yes"])
    assert refused.exit_code == 2
    assert "no such backup file" in refused.output
