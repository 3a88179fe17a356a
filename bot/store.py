"""SQLite persistence for users, conversations, messages, moderation decisions and adapter state.

The store is the source of truth: every incoming message is written before it is answered, every reply
before it is sent, so a crash between the two loses nothing and a restart can tell what is still owed.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.messages import Author, ConversationKey
from bot.migrations import migrate

log = logging.getLogger(__name__)


class StoreError(Exception):
    """The database could not be opened or written; the message says which file and why."""


def utc_now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class StoredMessage:
    """One row of `messages`, as the manager and adapters read it back."""

    id: int
    conversation_id: int
    user_id: int | None
    role: str
    text: str
    created_at: str
    platform_message_id: str
    reply_to_message_id: str
    status: str
    source: str | None = None
    details: dict[str, Any] | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> StoredMessage:
        return cls(
            id=row["id"],
            conversation_id=row["conversation_id"],
            user_id=row["user_id"],
            role=row["role"],
            text=row["text"],
            created_at=row["created_at"],
            platform_message_id=row["platform_message_id"] or "",
            reply_to_message_id=row["reply_to_message_id"] or "",
            status=row["status"],
            source=row.get("source"),
            details=json.loads(row["details"]) if row.get("details") else None,
        )


# Message statuses. User messages: received -> answered | ignored.
# Bot messages: pending_send -> [sending ->] sent | failed (owed again) | unknown (maybe posted; never resent).
RECEIVED = "received"
ANSWERED = "answered"
IGNORED = "ignored"
PENDING_SEND = "pending_send"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
UNKNOWN = "unknown"
# A stored reply stops being owed after this many failed attempts (kept in the database as failed).
MAX_DELIVERY_ATTEMPTS = 5
# Key in a user message's details: how the platform addressed it, so a restart can answer it as it came.
INCOMING_FLAGS = "incoming"
# Key in a bot message's details: set once a send that was attempted but never confirmed was tried again.
RESENT_UNCONFIRMED = "resent_unconfirmed"
# Key in a bot message's details: characters of its text already posted by an interrupted delivery.
DELIVERED_CHARS = "delivered_chars"


class ThreadConnections:
    """One SQLite connection (wrapped in sqlite-utils) per thread, all on the same WAL database file.

    It exists because a connection shared between threads lets one thread's statement land inside
    another's transaction: sqlite-utils runs each `query()` in a savepoint, its `upsert` probes the SQLite
    version by creating a table, and a reader's lazy cursor left open on the shared connection made a
    writer's `create table` fail with "database table is locked". With a connection per thread, each
    transaction belongs to exactly one thread; SQLite's own file locking (WAL: readers never block the
    writer, writers wait for each other up to `busy_timeout_s`) orders them.
    """

    def __init__(self, path: str, busy_timeout_s: float = 30.0) -> None:
        self.path = path
        self.busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._all: list[tuple[threading.Thread, sqlite_utils.Database]] = []
        self._registry_lock = threading.Lock()
        self._closed = False

    def current(self) -> sqlite_utils.Database:
        """This thread's database, connected on first use."""
        db: sqlite_utils.Database | None = getattr(self._local, "db", None)
        if db is None:
            if self._closed:
                raise StoreError(f"{self.path}: the store is closed")
            db = self._connect()
            self._local.db = db
            with self._registry_lock:
                self._all.append((threading.current_thread(), db))
        return db

    def _connect(self) -> sqlite_utils.Database:
        # check_same_thread=False only so close() can close every thread's connection at the end.
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=self.busy_timeout_s)
        conn.execute("pragma foreign_keys = on")
        conn.execute("pragma synchronous = normal")
        return sqlite_utils.Database(conn)

    def close(self) -> None:
        """Close this thread's connection and those of threads that have ended.

        A connection another live thread owns is left to that thread: closing it under a statement in flight
        crashes the process. That thread gets `StoreError` at its next use, and its connection closes with it;
        a second `close()` once such threads have ended (an event loop's workers, after the loop) closes it too.
        Before any is left open, the WAL is checkpointed into the database file (and truncated), so what was
        written is in the main file at a normal stop, not only once the last connection closes.
        """
        self._closed = True
        me = threading.current_thread()
        with self._registry_lock:
            if any(owner is not me and owner.is_alive() for owner, _ in self._all):
                self._checkpoint(me)
            kept = []
            for owner, db in self._all:
                if owner is me or not owner.is_alive():
                    db.conn.close()
                else:
                    kept.append((owner, db))
            self._all = kept
        self._local = threading.local()

    def _checkpoint(self, me: threading.Thread) -> None:
        mine = next((db for owner, db in self._all if owner is me), None)
        try:
            conn = mine.conn if mine is not None else sqlite3.connect(self.path, timeout=self.busy_timeout_s)
            try:
                conn.execute("pragma wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                if mine is None:
                    conn.close()
        except sqlite3.Error as exc:  # busy readers: the checkpoint happens when the last connection closes
            log.warning("%s: WAL not checkpointed at close: %s", self.path, exc)


class Store:
    """The bot's SQLite database (WAL mode, migrated on open), safe to use from any thread.

    Each thread gets its own connection (`db` is that thread's), and `transaction()` takes SQLite's write
    lock up front (`BEGIN IMMEDIATE`), so writers from different threads queue instead of failing.
    """

    def __init__(self, connections: ThreadConnections, temporary_dir: tempfile.TemporaryDirectory[str] | None = None):
        self._connections = connections
        self.path = connections.path
        self._temporary_dir = temporary_dir

    @property
    def db(self) -> sqlite_utils.Database:
        """The calling thread's connection (sqlite-utils `Database`)."""
        return self._connections.current()

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """Open (creating if needed) and migrate the database at `path`.

        ':memory:' (tests) is a fresh database in a temporary file deleted on close: an in-memory database
        cannot be shared by the per-thread connections.
        """
        target = str(path)
        temporary_dir = None
        if target == ":memory:":
            temporary_dir = tempfile.TemporaryDirectory(prefix="socialbot-db-")
            target = str(Path(temporary_dir.name) / "bot.db")
        try:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            connections = ThreadConnections(target)
            db = connections.current()
            db.enable_wal()
            migrate(db)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{path}: cannot open database: {exc}") from exc
        return cls(connections, temporary_dir)

    def close(self) -> None:
        self._connections.close()
        if self._temporary_dir is not None:
            self._temporary_dir.cleanup()
            self._temporary_dir = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """Group writes and commit them together; another thread's writes wait until it ends.

        Nested use in the same thread joins the outer transaction.
        """
        db = self.db
        if db.conn.in_transaction:
            with db.atomic():
                yield db
            return
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            if db.conn.in_transaction:
                db.conn.rollback()
            raise
        else:
            db.conn.commit()

    # users and conversations -------------------------------------------------------------------------

    def upsert_user(self, platform: str, author: Author) -> int:
        from bot.sanitize import storable

        now = utc_now()
        author = Author(author.user_id, storable(author.display_name), storable(author.username), author.is_bot)
        with self.transaction() as db:
            rows = list(
                db.query(
                    "select id from users where platform = ? and platform_user_id = ?",
                    [platform, author.user_id],
                )
            )
            if rows:
                db.execute(
                    "update users set display_name = ?, username = ?, last_seen = ? where id = ?",
                    [author.display_name, author.username, now, rows[0]["id"]],
                )
                return int(rows[0]["id"])
            table = db.table("users")
            table.insert(
                {
                    "platform": platform,
                    "platform_user_id": author.user_id,
                    "display_name": author.display_name,
                    "username": author.username,
                    "is_bot": int(author.is_bot),
                    "first_seen": now,
                    "last_seen": now,
                }
            )
            return int(table.last_pk or 0)

    def conversation_id(self, key: ConversationKey) -> int:
        """The id of `key`'s conversation, created on first use."""
        with self.transaction() as db:
            rows = list(
                db.query(
                    "select id from conversations where platform = ? and chat_id = ? and thread_id = ?",
                    [key.platform, key.chat_id, key.thread_id],
                )
            )
            if rows:
                return int(rows[0]["id"])
            table = db.table("conversations")
            table.insert(
                {
                    "platform": key.platform,
                    "chat_id": key.chat_id,
                    "thread_id": key.thread_id,
                    "created_at": utc_now(),
                    "reset_at": 0,
                }
            )
            return int(table.last_pk or 0)

    def conversation_key(self, conversation_id: int) -> ConversationKey:
        row = self.db.table("conversations").get(conversation_id)
        return ConversationKey(row["platform"], row["chat_id"], row["thread_id"])

    def reset_conversation(self, conversation_id: int) -> None:
        """Forget the context so far: later prompts only see messages after this point."""
        with self.transaction() as db:
            last = next(
                db.query(
                    "select coalesce(max(id), 0) as last from messages where conversation_id = ?", [conversation_id]
                )
            )["last"]
            db.execute("update conversations set reset_at = ? where id = ?", [last, conversation_id])

    # messages -----------------------------------------------------------------------------------------

    def insert_message(
        self,
        conversation_id: int,
        role: str,
        text: str,
        status: str,
        user_id: int | None = None,
        platform_message_id: str = "",
        reply_to_message_id: str = "",
        source: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> int:
        with self.transaction() as db:
            table = db.table("messages")
            table.insert(
                {
                    "conversation_id": conversation_id,
                    "user_id": user_id,
                    "role": role,
                    "text": text,
                    "created_at": utc_now(),
                    "platform_message_id": platform_message_id,
                    "reply_to_message_id": reply_to_message_id,
                    "status": status,
                    "source": source,
                    "details": json.dumps(details, default=str) if details else None,
                }
            )
            return int(table.last_pk or 0)

    def get_message(self, message_id: int) -> StoredMessage:
        return StoredMessage.from_row(self.db.table("messages").get(message_id))

    def find_user_message(self, conversation_id: int, platform_message_id: str) -> StoredMessage | None:
        """The stored user message with this platform id, for deduplicating replayed events."""
        if not platform_message_id:
            return None
        rows = list(
            self.db.query(
                "select * from messages where conversation_id = ? and platform_message_id = ? and role = 'user' "
                "order by id limit 1",
                [conversation_id, platform_message_id],
            )
        )
        return StoredMessage.from_row(rows[0]) if rows else None

    def set_status(self, message_id: int, status: str) -> None:
        with self.transaction() as db:
            db.execute("update messages set status = ? where id = ?", [status, message_id])

    def update_text(self, message_id: int, text: str) -> None:
        """Record an edit of a stored message (the text the platform now shows)."""
        with self.transaction() as db:
            db.execute("update messages set text = ?, edited_at = ? where id = ?", [text, utc_now(), message_id])

    def history(self, conversation_id: int, limit: int = 200, before_id: int | None = None) -> list[StoredMessage]:
        """Recent user/assistant messages since the last reset, oldest first."""
        params: list[Any] = [conversation_id]
        before = ""
        if before_id is not None:
            before = "and m.id < ?"
            params.append(before_id)
        params.append(limit)
        rows = self.db.query(
            f"""select m.* from messages m join conversations c on c.id = m.conversation_id
                where m.conversation_id = ? and m.id > c.reset_at and m.role in ('user', 'assistant')
                and m.status != 'ignored' {before}
                order by m.id desc limit ?""",
            params,
        )
        return [StoredMessage.from_row(row) for row in reversed(list(rows))]

    def messages_for(self, conversation_id: int) -> list[StoredMessage]:
        rows = self.db.query("select * from messages where conversation_id = ? order by id", [conversation_id])
        return [StoredMessage.from_row(row) for row in rows]

    # delivery -----------------------------------------------------------------------------------------

    def mark_sent(self, message_id: int, platform_message_id: str) -> None:
        with self.transaction() as db:
            db.execute(
                "update messages set status = 'sent', "
                "platform_message_id = case when ? != '' then ? else platform_message_id end, "
                "delivery_attempts = delivery_attempts + 1 where id = ?",
                [platform_message_id, platform_message_id, message_id],
            )

    def mark_failed(self, message_id: int, error: str, delivered_chars: int = 0) -> None:
        """A delivery attempt failed after posting the text's first `delivered_chars` characters (kept in
        details, never lowered, so a retry resumes where the platform stopped); it stays owed for
        `MAX_DELIVERY_ATTEMPTS` attempts."""
        with self.transaction() as db:
            db.execute(
                "update messages set status = 'failed', delivery_error = ?, "
                "delivery_attempts = delivery_attempts + 1, "
                f"details = json_set(coalesce(details, '{{}}'), '$.{DELIVERED_CHARS}', "
                f"max(?, coalesce(json_extract(details, '$.{DELIVERED_CHARS}'), 0))) where id = ?",
                [error[:500], max(0, delivered_chars), message_id],
            )

    def mark_sending(self, message_id: int, delivered_chars: int) -> None:
        """Record, before the platform is called, that a chunk starting at `delivered_chars` is being sent:
        after a crash inside that call the message is known as attempted, not merely owed."""
        with self.transaction() as db:
            db.execute(
                "update messages set status = 'sending', "
                f"details = json_set(coalesce(details, '{{}}'), '$.{DELIVERED_CHARS}', "
                f"max(?, coalesce(json_extract(details, '$.{DELIVERED_CHARS}'), 0))) where id = ?",
                [max(0, delivered_chars), message_id],
            )

    def mark_posted(self, message_id: int, delivered_chars: int, platform_message_id: str = "") -> None:
        """The chunk sent since `mark_sending` is confirmed: the text is posted up to `delivered_chars` (the
        message is owed again from there until `mark_sent`); `platform_message_id` of its first chunk."""
        with self.transaction() as db:
            db.execute(
                "update messages set status = 'pending_send', "
                "platform_message_id = case when ? != '' then ? else platform_message_id end, "
                f"details = json_set(coalesce(details, '{{}}'), '$.{DELIVERED_CHARS}', ?) where id = ?",
                [platform_message_id, platform_message_id, max(0, delivered_chars), message_id],
            )

    def mark_unknown(self, message_id: int, error: str) -> None:
        """A send was attempted and never confirmed, and it must not be repeated: a person has to check."""
        with self.transaction() as db:
            db.execute(
                "update messages set status = 'unknown', delivery_error = ? where id = ?", [error[:500], message_id]
            )

    def merge_details(self, message_id: int, values: dict[str, Any]) -> None:
        """Add `values` to a message's details (existing keys are replaced)."""
        with self.transaction() as db:
            db.execute(
                "update messages set details = json_patch(coalesce(details, '{}'), ?) where id = ?",
                [json.dumps(values, default=str), message_id],
            )

    def unsent_messages(self, platform: str) -> list[StoredMessage]:
        """Bot messages still owed to the platform (stored, never confirmed sent, or attempted and not
        confirmed), oldest first."""
        rows = self.db.query(
            """select m.* from messages m join conversations c on c.id = m.conversation_id
               where c.platform = ? and m.role = 'assistant' and m.status in ('pending_send', 'failed', 'sending')
               and m.delivery_attempts < ? order by m.id""",
            [platform, MAX_DELIVERY_ATTEMPTS],
        )
        return [StoredMessage.from_row(row) for row in rows]

    def unanswered_messages(self, platform: str) -> list[StoredMessage]:
        """User messages stored but never handled to the end (a crash or a stop came first), oldest first."""
        rows = self.db.query(
            """select m.* from messages m join conversations c on c.id = m.conversation_id
               where c.platform = ? and m.role = 'user' and m.status = 'received' order by m.id""",
            [platform],
        )
        return [StoredMessage.from_row(row) for row in rows]

    def user_identity(self, user_id: int) -> Author | None:
        """The stored author of a message (platform id, names, bot flag)."""
        rows = list(self.db.query("select * from users where id = ?", [user_id]))
        if not rows:
            return None
        row = rows[0]
        return Author(row["platform_user_id"], row["display_name"] or "", row["username"] or "", bool(row["is_bot"]))

    # moderation ---------------------------------------------------------------------------------------

    def record_moderation(
        self, message_id: int, direction: str, decision: str, reasons: list[str], scores: dict[str, float]
    ) -> int:
        with self.transaction() as db:
            table = db.table("moderation_decisions")
            table.insert(
                {
                    "message_id": message_id,
                    "direction": direction,
                    "decision": decision,
                    "reasons": json.dumps(reasons),
                    "scores": json.dumps(scores),
                    "created_at": utc_now(),
                }
            )
            return int(table.last_pk or 0)

    def moderation_for(self, message_id: int) -> list[dict[str, Any]]:
        return list(self.db.query("select * from moderation_decisions where message_id = ?", [message_id]))

    # adapter state and event dedupe ------------------------------------------------------------------

    def get_state(self, key: str, default: str | None = None) -> str | None:
        rows = list(self.db.query("select value from state where key = ?", [key]))
        return str(rows[0]["value"]) if rows else default

    def set_state(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.table("state").upsert({"key": key, "value": value, "updated_at": utc_now()}, pk="key")

    def claim_event(self, platform: str, event_id: str) -> bool:
        """Record that an event is being processed; False when it was already claimed (a replay)."""
        with self.transaction() as db:
            cursor = db.execute(
                "insert or ignore into processed_events (platform, event_id, processed_at) values (?, ?, ?)",
                [platform, event_id, utc_now()],
            )
            return cursor.rowcount == 1

    def event_claimed(self, platform: str, event_id: str) -> bool:
        """Whether `claim_event` was already called for this event."""
        row = self.db.execute(
            "select 1 from processed_events where platform = ? and event_id = ?", [platform, event_id]
        ).fetchone()
        return row is not None

    # privacy ------------------------------------------------------------------------------------------

    def delete_user_data(self, platform: str, platform_user_id: str) -> int:
        """Delete a user's messages and profile; returns the number of messages removed."""
        with self.transaction() as db:
            rows = list(
                db.query(
                    "select id from users where platform = ? and platform_user_id = ?", [platform, platform_user_id]
                )
            )
            if not rows:
                return 0
            user_id = rows[0]["id"]
            db.execute(
                "delete from moderation_decisions where message_id in (select id from messages where user_id = ?)",
                [user_id],
            )
            count = db.execute("delete from messages where user_id = ?", [user_id]).rowcount
            db.execute("delete from users where id = ?", [user_id])
            return int(count)
