"""The read queries behind the overview and conversation pages: bounded (LIMIT/OFFSET) and indexed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.store import Store


@dataclass(frozen=True)
class Page:
    """One page of a long list: `rows` plus whether there is a next page."""

    rows: list[dict[str, Any]]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def paged(store: Store, sql: str, params: list[Any], number: int, size: int) -> Page:
    """Run `sql` (without LIMIT) for page `number` (1-based), fetching one extra row to know if more follow."""
    number = max(1, number)
    rows = list(store.db.query(f"{sql} limit ? offset ?", [*params, size + 1, (number - 1) * size]))
    return Page(rows[:size], number, len(rows) > size)


def like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def start_of_today() -> str:
    now = datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0).isoformat()


def _count(store: Store, sql: str, params: list[Any] | None = None) -> int:
    return int(next(store.db.query(sql, params or []))["n"])


def _table(store: Store, name: str) -> bool:
    return bool(store.db.table(name).exists())


def today_numbers(store: Store) -> dict[str, int]:
    """Today's activity (UTC day): messages in and out, new members, moderation, tickets, posts."""
    since = start_of_today()
    numbers = {
        "messages_received": _count(
            store, "select count(*) as n from messages where created_at >= ? and role = 'user'", [since]
        ),
        "replies_sent": _count(
            store,
            # unary + keeps SQLite on the created_at index (the status index matches half the table)
            "select count(*) as n from messages where created_at >= ? and +role = 'assistant' and +status = 'sent'",
            [since],
        ),
        "replies_owed": _count(store, "select count(*) as n from messages where status in ('pending_send', 'failed')"),
        "new_members": _count(store, "select count(*) as n from users where first_seen >= ?", [since]),
    }
    if _table(store, "automod_actions"):
        numbers["automod_actions"] = _count(
            store, "select count(*) as n from automod_actions where created_at >= ?", [since]
        )
    if _table(store, "tickets"):
        numbers["open_tickets"] = _count(store, "select count(*) as n from tickets where status = 'open'")
    if _table(store, "drafts"):
        numbers["drafts_to_review"] = _count(store, "select count(*) as n from drafts where status = 'draft'")
    if _table(store, "posts"):
        numbers["posts_sent"] = _count(
            store, "select count(*) as n from posts where state = 'sent' and sent_at >= ?", [since]
        )
        numbers["posts_missed_or_failed"] = _count(
            store,
            "select count(*) as n from posts where state in ('missed', 'failed', 'unknown') and updated_at >= ?",
            [since],
        )
    return numbers


def totals(store: Store) -> dict[str, int]:
    return {
        "messages": _count(store, "select count(*) as n from messages"),
        "members": _count(store, "select count(*) as n from users"),
        "conversations": _count(store, "select count(*) as n from conversations"),
    }


def search_messages(store: Store, text: str, number: int, size: int) -> Page:
    """Messages containing `text` (case-insensitive for ASCII), newest first."""
    return paged(
        store,
        "select m.id, m.conversation_id, m.user_id, m.role, m.text, m.created_at, m.status, "
        "u.display_name, u.username, c.platform, c.chat_id from messages m "
        "join conversations c on c.id = m.conversation_id left join users u on u.id = m.user_id "
        "where m.text like ? escape '\\' order by m.id desc",
        [like_pattern(text)],
        number,
        size,
    )


def recent_members(store: Store, number: int, size: int) -> Page:
    return paged(store, "select * from users order by last_seen desc, id desc", [], number, size)


def member_messages(store: Store, user_id: int, number: int, size: int) -> Page:
    """One member's messages, newest first, with the bot's reply to each where there is one."""
    return paged(
        store,
        "select m.id, m.conversation_id, m.text, m.created_at, m.status, c.platform, c.chat_id, c.thread_id, "
        "(select r.text from messages r where r.conversation_id = m.conversation_id and r.id > m.id "
        " and r.role = 'assistant' and r.reply_to_message_id = m.platform_message_id "
        " and m.platform_message_id != '' order by r.id limit 1) as reply "
        "from messages m join conversations c on c.id = m.conversation_id where m.user_id = ? order by m.id desc",
        [user_id],
        number,
        size,
    )


def conversation_messages(store: Store, conversation_id: int, number: int, size: int) -> Page:
    return paged(
        store,
        "select m.id, m.role, m.text, m.created_at, m.status, m.source, u.display_name, u.username, m.user_id "
        "from messages m left join users u on u.id = m.user_id where m.conversation_id = ? order by m.id desc",
        [conversation_id],
        number,
        size,
    )


def recent_conversations(store: Store, number: int, size: int) -> Page:
    return paged(
        store,
        "select c.id, c.platform, c.chat_id, c.thread_id, c.created_at, "
        "(select max(m.id) from messages m where m.conversation_id = c.id) as last_message_id "
        "from conversations c order by last_message_id desc nulls last, c.id desc",
        [],
        number,
        size,
    )
