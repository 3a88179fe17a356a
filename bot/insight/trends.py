"""Trends per chat and per day or week, computed by SQL aggregates so a report over a million messages is fast.

A chat is `platform:chat_id` (its threads together). Members are people (bots excluded). A "question" is a
member message the knowledge base handled: its reply records the outcome (answered, declined or handoff).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from bot.store import Store

Period = Literal["day", "week"]


def bucket_sql(column: str, period: Period) -> str:
    """SQL for the day (`YYYY-MM-DD`) or the Monday of the week a stored ISO timestamp falls in."""
    day = f"substr({column}, 1, 10)"
    return day if period == "day" else f"date({day}, '-6 days', 'weekday 1')"


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
    """Daily rows from SQL aggregates, and weekly rows rolled up from them (distinct members counted apart).

    Member messages are read from `insight_sentiment`, which holds a row for each one once it is scored
    (seconds after it arrives).
    """
    start, end = since.isoformat(), until.isoformat()
    chat_filter = "and c.platform || ':' || c.chat_id = :chat" if chat else ""
    params: dict[str, object] = {"since": start, "until": end, "toxic": toxic_threshold, "chat": chat or ""}
    daily: dict[tuple[str, str], TrendRow] = {}

    def row_for(chat_name: str, bucket: str) -> TrendRow:
        return daily.setdefault((chat_name, bucket), TrendRow(chat_name, bucket))

    for record in store.db.query(
        f"""select c.platform || ':' || c.chat_id as chat, substr(s.created_at, 1, 10) as bucket,
                   count(*) as messages, count(distinct s.user_id) as active_members,
                   count(*) as scored,
                   sum(s.label = 'negative') as negative,
                   sum(s.label = 'neutral') as neutral,
                   sum(s.label = 'positive') as positive,
                   coalesce(sum(s.offensive >= :toxic), 0) as toxic
            from insight_sentiment s join conversations c on c.id = s.conversation_id
            where s.created_at >= :since and s.created_at < :until {chat_filter}
            group by chat, bucket""",
        params,
    ):
        row = row_for(record["chat"], record["bucket"])
        for name in ("messages", "active_members", "scored", "negative", "neutral", "positive", "toxic"):
            setattr(row, name, int(record[name]))

    first_seen = list(
        store.db.query(
            f"""select chat, first_at from (
                    select c.platform || ':' || c.chat_id as chat, min(s.created_at) as first_at
                    from insight_sentiment s join conversations c on c.id = s.conversation_id
                    where s.user_id is not null {chat_filter}
                    group by c.platform, c.chat_id, s.user_id)
                where first_at >= :since and first_at < :until""",
            params,
        )
    )
    for record in first_seen:
        row_for(record["chat"], str(record["first_at"])[:10]).new_members += 1

    timed_seconds: dict[tuple[str, str], float] = {}
    for record in store.db.query(
        f"""select c.platform || ':' || c.chat_id as chat, substr(a.created_at, 1, 10) as bucket,
                   json_extract(a.details, '$.outcome') as outcome, count(*) as replies,
                   count(q.id) as timed,
                   sum((julianday(a.created_at) - julianday(q.created_at)) * 86400.0) as response_s
            from messages a
            join conversations c on c.id = a.conversation_id
            left join messages q on q.conversation_id = a.conversation_id and a.reply_to_message_id != ''
                 and q.platform_message_id = a.reply_to_message_id and q.role = 'user'
            where a.role = 'assistant' and a.created_at >= :since and a.created_at < :until {chat_filter}
            group by chat, bucket, outcome""",
        params,
    ):
        key = (record["chat"], record["bucket"])
        _add_replies(row_for(*key), record["outcome"], int(record["replies"]), int(record["timed"]))
        timed_seconds[key] = timed_seconds.get(key, 0.0) + float(record["response_s"] or 0.0)
    for key, seconds in timed_seconds.items():
        row = daily[key]
        row.mean_response_s = seconds / row.replies_timed if row.replies_timed else None

    weekly = _weekly(store, daily, first_seen, chat_filter, params)
    for table in (daily, weekly):
        for row in table.values():
            row.returning_members = max(0, row.active_members - row.new_members)
    return {
        "day": Trends(start, end, "day", sorted(daily.values(), key=lambda row: (row.bucket, row.chat))),
        "week": Trends(start, end, "week", sorted(weekly.values(), key=lambda row: (row.bucket, row.chat))),
    }


def _add_replies(row: TrendRow, outcome: object, replies: int, timed: int) -> None:
    if outcome == "answered":
        row.answered += replies
    elif outcome == "declined":
        row.declined += replies
    elif outcome == "handoff":
        row.handoffs += replies
    row.replies_timed += timed


def week_of(day: str) -> str:
    """The Monday (`YYYY-MM-DD`) of the week `day` falls in."""
    parsed = date.fromisoformat(day[:10])
    return (parsed - timedelta(days=parsed.weekday())).isoformat()


def _weekly(
    store: Store,
    daily: dict[tuple[str, str], TrendRow],
    first_seen: list[dict[str, object]],
    chat_filter: str,
    params: dict[str, object],
) -> dict[tuple[str, str], TrendRow]:
    weekly: dict[tuple[str, str], TrendRow] = {}
    timed_seconds: dict[tuple[str, str], float] = {}
    for (chat_name, day), row in daily.items():
        key = (chat_name, week_of(day))
        week = weekly.setdefault(key, TrendRow(*key))
        for name in ADDITIVE:
            if name != "new_members":
                setattr(week, name, getattr(week, name) + getattr(row, name))
        timed_seconds[key] = timed_seconds.get(key, 0.0) + (row.mean_response_s or 0.0) * row.replies_timed
    for key, seconds in timed_seconds.items():
        weekly[key].mean_response_s = seconds / weekly[key].replies_timed if weekly[key].replies_timed else None
    for record in first_seen:
        key = (str(record["chat"]), week_of(str(record["first_at"])))
        weekly.setdefault(key, TrendRow(*key)).new_members += 1
    for record in store.db.query(
        f"""select c.platform || ':' || c.chat_id as chat, {bucket_sql("s.created_at", "week")} as bucket,
                   count(distinct s.user_id) as active_members
            from insight_sentiment s join conversations c on c.id = s.conversation_id
            where s.created_at >= :since and s.created_at < :until {chat_filter}
            group by chat, bucket""",
        params,
    ):
        key = (record["chat"], record["bucket"])
        weekly.setdefault(key, TrendRow(*key)).active_members = int(record["active_members"])
    return weekly
