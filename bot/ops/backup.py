"""Online backups of the bot's SQLite database and restores of them.

A backup goes through SQLite's online backup API from a connection of its own, in one step: the copy is one
consistent snapshot of the database (WAL readers never block the bot's writers), so it is safe while the bot
runs. The copy is written beside its destination and renamed into place, so a crash never leaves a truncated
backup under the final name. A restore needs the bot stopped: it takes SQLite's exclusive lock on the database,
which fails while any other connection (a running bot) has it open, and keeps the replaced database aside.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


class BackupError(Exception):
    """A backup or restore that could not be done, with what to do about it."""


@dataclass(frozen=True)
class BackupResult:
    """What a backup wrote: where, how big, and that the copy passed SQLite's integrity check."""

    path: Path
    bytes: int
    tables: int
    integrity: str


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did: the database it replaced, and where the replaced contents were kept."""

    database: Path
    restored_from: Path
    previous_copy: Path | None
    integrity: str


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)


def integrity(connection: sqlite3.Connection, full: bool = False) -> str:
    """'ok', or SQLite's first complaints joined: `integrity_check` when `full`, else the faster `quick_check`."""
    pragma = "integrity_check" if full else "quick_check"
    rows = [str(row[0]) for row in connection.execute(f"pragma {pragma}(20)")]
    return "ok" if rows == ["ok"] else "; ".join(rows)


def _table_count(connection: sqlite3.Connection) -> int:
    return int(connection.execute("select count(*) from sqlite_master where type = 'table'").fetchone()[0])


def backup_database(database: Path, out: Path) -> BackupResult:
    """Copy `database` to `out` through the online backup API (safe while the bot runs), then verify the copy."""
    if not database.is_file():
        raise BackupError(f"{database}: no database there (check [bot] database in the config)")
    out = out.expanduser()
    if out.resolve() == database.resolve():
        raise BackupError(f"{out}: the backup must not overwrite the database itself")
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, staging_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    os.close(handle)
    staging = Path(staging_name)
    try:
        source = _read_only(database)
        try:
            target = sqlite3.connect(staging)
            try:
                source.backup(target)  # pages=-1: one step, so one consistent snapshot
                # One self-contained file: no -wal/-shm beside the backup.
                target.execute("pragma journal_mode = delete")
                checked = integrity(target, full=True)
                tables = _table_count(target)
            finally:
                target.close()
        finally:
            source.close()
        if checked != "ok":
            raise BackupError(f"{database}: the copy failed SQLite's integrity check: {checked}")
        os.replace(staging, out)
    except sqlite3.Error as exc:
        raise BackupError(f"{database}: backup failed: {exc}") from exc
    finally:
        staging.unlink(missing_ok=True)
    return BackupResult(path=out, bytes=out.stat().st_size, tables=tables, integrity=checked)


def _check_backup_file(backup: Path) -> None:
    if not backup.is_file():
        raise BackupError(f"{backup}: no such backup file")
    try:
        connection = _read_only(backup)
        try:
            checked = integrity(connection, full=True)
            has_migrations = connection.execute(
                "select 1 from sqlite_master where type = 'table' and name = '_migrations'"
            ).fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{backup}: not an SQLite database ({exc})") from exc
    if checked != "ok":
        raise BackupError(f"{backup}: the backup is damaged: {checked}")
    if not has_migrations:
        raise BackupError(f"{backup}: not a socialbot database (no _migrations table)")


def _lock_exclusively(database: Path) -> sqlite3.Connection:
    """A connection holding SQLite's exclusive lock on `database` until closed; fails while the bot has it open."""
    connection = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        connection.execute("pragma locking_mode = exclusive")
        connection.execute("begin exclusive")
        connection.execute("rollback")  # the lock stays: exclusive locking mode keeps it until close
    except sqlite3.OperationalError as exc:
        connection.close()
        raise BackupError(
            f"{database}: the database is in use ({exc}); stop the bot (e.g. `systemctl stop socialbot`) first"
        ) from exc
    return connection


def restore_database(backup: Path, database: Path, keep_previous: bool = True) -> RestoreResult:
    """Replace `database` with the contents of `backup` (the bot must be stopped).

    The backup is checked first (integrity, a socialbot schema); the current database is copied to
    `<name>.before-restore-<UTC time>.db` beside it unless `keep_previous` is false. A backup made by an
    older version is migrated forward the next time the bot opens it.
    """
    backup, database = backup.expanduser(), database.expanduser()
    if backup.resolve() == database.resolve():
        raise BackupError(f"{backup}: that is the database itself, not a backup of it")
    _check_backup_file(backup)
    database.parent.mkdir(parents=True, exist_ok=True)
    previous: Path | None = None
    target = _lock_exclusively(database)
    try:
        if keep_previous and database.stat().st_size > 0:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            previous = database.with_name(f"{database.stem}.before-restore-{stamp}.db")
            kept = sqlite3.connect(previous)
            try:
                target.backup(kept)
            finally:
                kept.close()
        source = _read_only(backup)
        try:
            source.backup(target)
        finally:
            source.close()
        checked = integrity(target, full=True)
    except sqlite3.Error as exc:
        raise BackupError(f"{database}: restore failed: {exc}") from exc
    finally:
        with contextlib.suppress(sqlite3.Error):
            target.close()
    if checked != "ok":
        raise BackupError(f"{database}: the restored database failed the integrity check: {checked}")
    return RestoreResult(database=database, restored_from=backup, previous_copy=previous, integrity=checked)
