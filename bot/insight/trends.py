"""Trends per chat and per day or week, computed by SQL aggregates so a report over a million messages is fast.

A chat is `platform:chat_id` (its threads together). Members are people (bots excluded). A "question" is a
member message the knowledge base handled: its reply records the outcome (answered, declined or handoff).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Literal

from bot.store import Store

Period = Literal["day", "week"]


@dataclass
class TrendRow:
    """The figures of one chat in one day or week."""

    chat: str
    bucket: str
    messages: int = 0
    active_members: int = 0
    new_members: int = 0
    returning_members: int = 0
    scored: int = 0
    negative: int = 0
    neutral: int = 0
    positive: int = 0
    toxic: int = 0
    answered: int = 0
    declined: int = 0
    handoffs: int = 0
    replies_timed: int = 0
    mean_response_s: float | None = None

    @property
    def negative_share(self) -> float:
        return self.negative / self.scored if self.scored else 0.0

    @property
    def positive_share(self) -> float:
        return self.positive / self.scored if self.scored else 0.0

    @property
    def toxicity_rate(self) -> float:
        return self.toxic / self.messages if self.messages else 0.0

    def as_json(self) -> dict[str, object]:
        data: dict[str, object] = asdict(self)
        data["negative_share"] = round(self.negative_share, 4)
        data["positive_share"] = round(self.positive_share, 4)
        data["toxicity_rate"] = round(self.toxicity_rate, 4)
        return data


@dataclass
class Trends:
    """All rows of a period, oldest bucket first, and the chats' totals."""

    since: str
    until: str
    period: Period
    rows: list[TrendRow] = field(default_factory=list)

    def totals(self) -> TrendRow:
        total = TrendRow("all", f"{self.since[:10]}..{self.until[:10]}")
        timed_seconds = 0.0
        for row in self.rows:
            for name in ADDITIVE:
                setattr(total, name, getattr(total, name) + getattr(row, name))
            timed_seconds += (row.mean_response_s or 0.0) * row.replies_timed
        total.mean_response_s = timed_seconds / total.replies_timed if total.replies_timed else None
        return total

    def chats(self) -> list[str]:
        return sorted({row.chat for row in self.rows})

    def as_json(self) -> dict[str, object]:
        return {
            "since": self.since,
            "until": self.until,
            "period": self.period,
            "totals": self.totals().as_json(),
            "rows": [row.as_json() for row in self.rows],
        }


ADDITIVE = (
    "messages", "new_members", "scored", "negative", "neutral", "positive", "toxic",
    "answered", "declined", "handoffs", "replies_timed",
)  # fmt: skip


def compute_trends(
    store: Store,
    since: datetime,
    until: datetime,
    period: Period = "day",
    toxic_threshold: float = 0.7,
    chat: str | None = None,
) -> Trends:
    """Figures per chat and bucket for member messages stored in [since, until)."""
    return compute_daily_and_weekly(store, since, until, toxic_threshold, chat)[period]


def compute_daily_and_weekly(
    store: Store, since: datetime, until: datetime, toxic_threshold: float = 0.7, chat: str | None = None
) -> dict[Period, Trends]:
    """Daily and weekly rows from three aggregates over covering indexes of the insight tables.

    Member messages are read from `insight_sentiment`, bot replies from `insight_replies`; both are filled
    by the scorer seconds after a message is stored. Distinct members are counted in Python from one row per
    (conversation, day, member), so threads of one chat and the days of one week are not counted twice.
    """
    start, end = since.isoformat(), until.isoformat()
    chats = _chat_names(store, chat)
    daily: dict[tuple[str, str], TrendRow] = {}
    weekly: dict[tuple[str, str], TrendRow] = {}
    day_members: dict[tuple[str, str], set[int]] = {}
    week_members: dict[tuple[str, str], set[int]] = {}

    def rows_for(chat_name: str, day: str) -> tuple[TrendRow, TrendRow]:
        week = week_of(day)
        return (
            daily.setdefault((chat_name, day), TrendRow(chat_name, day)),
            weekly.setdefault((chat_name, week), TrendRow(chat_name, week)),
        )

    Cell = tuple[TrendRow, TrendRow, set[int], set[int]]
    cells: dict[tuple[int, str], Cell | None] = {}
    missing: Cell | None = None
    for conversation_id, day, user_id, count, negative, neutral, positive, toxic in store.db.execute(
        """select conversation_id, substr(created_at, 1, 10), user_id, count(*),
                  sum(label = 'negative'), sum(label = 'neutral'), sum(label = 'positive'),
                  coalesce(sum(offensive >= ?), 0)
           from insight_sentiment indexed by insight_sentiment_time
           where created_at >= ? and created_at < ? group by 1, 2, 3""",
        [toxic_threshold, start, end],
    ):
        if (conversation_id, day) in cells:
            cell = cells[(conversation_id, day)]
        else:
            chat_name = chats.get(conversation_id)
            if chat_name is None:
                cell = missing
            else:
                day_row, week_row = rows_for(chat_name, day)
                cell = (
                    day_row,
                    week_row,
                    day_members.setdefault((chat_name, day), set()),
                    week_members.setdefault((chat_name, week_row.bucket), set()),
                )
            cells[(conversation_id, day)] = cell
        if cell is None:
            continue
        for row in cell[:2]:
            row.messages += count
            row.scored += count
            row.negative += negative
            row.neutral += neutral
            row.positive += positive
            row.toxic += toxic
        if user_id is not None:
            cell[2].add(user_id)
            cell[3].add(user_id)
    for key, members in day_members.items():
        daily[key].active_members = len(members)
    for key, members in week_members.items():
        weekly[key].active_members = len(members)

    first_seen: dict[tuple[str, int], str] = {}
    for conversation_id, user_id, first_at in store.db.execute(
        """select conversation_id, user_id, min(created_at) from insight_sentiment
           indexed by insight_sentiment_member where user_id is not null group by conversation_id, user_id"""
    ):
        chat_name = chats.get(conversation_id)
        if chat_name is not None:
            member = (chat_name, int(user_id))
            first_seen[member] = min(first_at, first_seen.get(member, first_at))
    for (chat_name, _), first_at in first_seen.items():
        if start <= first_at < end:
            for row in rows_for(chat_name, first_at[:10]):
                row.new_members += 1

    timed_seconds: dict[int, float] = {}  # by id() of the row: a week and a day may share a bucket name
    for conversation_id, day, outcome, replies, timed, seconds in store.db.execute(
        """select conversation_id, substr(created_at, 1, 10), outcome, count(*), count(response_s),
                  coalesce(sum(response_s), 0)
           from insight_replies indexed by insight_replies_time
           where created_at >= ? and created_at < ? group by 1, 2, 3""",
        [start, end],
    ):
        chat_name = chats.get(conversation_id)
        if chat_name is None:
            continue
        for row in rows_for(chat_name, day):
            _add_replies(row, outcome, replies, timed)
            timed_seconds[id(row)] = timed_seconds.get(id(row), 0.0) + seconds
    for table in (daily, weekly):
        for row in table.values():
            row.returning_members = max(0, row.active_members - row.new_members)
            if row.replies_timed:
                row.mean_response_s = timed_seconds.get(id(row), 0.0) / row.replies_timed
    return {
        "day": Trends(start, end, "day", sorted(daily.values(), key=lambda row: (row.bucket, row.chat))),
        "week": Trends(start, end, "week", sorted(weekly.values(), key=lambda row: (row.bucket, row.chat))),
    }


def _chat_names(store: Store, chat: str | None) -> dict[int, str]:
    """Conversation id -> `platform:chat_id` (only `chat`'s conversations when given)."""
    names = {
        int(row["id"]): f"{row['platform']}:{row['chat_id']}"
        for row in store.db.query("select id, platform, chat_id from conversations")
    }
    return {key: name for key, name in names.items() if chat is None or name == chat}


def _add_replies(row: TrendRow, outcome: object, replies: int, timed: int) -> None:
    if outcome == "answered":
        row.answered += replies
    elif outcome == "declined":
        row.declined += replies
    elif outcome == "handoff":
        row.handoffs += replies
    row.replies_timed += timed


@lru_cache(maxsize=4096)
def week_of(day: str) -> str:
    """The Monday (`YYYY-MM-DD`) of the week `day` falls in."""
    parsed = date.fromisoformat(day[:10])
    return (parsed - timedelta(days=parsed.weekday())).isoformat()
