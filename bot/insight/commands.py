"""`/insights [days]`: the chat's figures for its admins, in aggregate (nobody's own sentiment is shown)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.insight.settings import WEEKDAYS, InsightSection
from bot.insight.trends import TrendRow, compute_trends
from bot.routing import Command, TurnContext
from bot.store import Store

MAX_DAYS = 90


def summarize(total: TrendRow, days: int, chat: str) -> str:
    """A few lines a person reads in a chat: activity, mood, toxicity, questions, response time."""
    if not total.messages:
        return f"No member messages in {chat} in the last {days} day(s)."
    mood = (
        f"{total.positive / total.scored:.0%} positive, {total.neutral / total.scored:.0%} neutral, "
        f"{total.negative / total.scored:.0%} negative"
        if total.scored
        else "not scored yet"
    )
    questions = total.answered + total.declined + total.handoffs
    response = f"{total.mean_response_s:.1f} s" if total.mean_response_s is not None else "n/a"
    return "\n".join(
        [
            f"Insights for the last {days} day(s):",
            f"- {total.messages} messages from {total.active_members} members ({total.new_members} new)",
            f"- mood: {mood}",
            f"- toxic messages: {total.toxic} ({total.toxicity_rate:.1%})",
            f"- questions: {questions} ({total.answered} answered, {total.declined} declined, "
            f"{total.handoffs} handed to a person)",
            f"- mean response time: {response}",
        ]
    )


def last_weekly_slot(spec: str, now: datetime) -> datetime | None:
    """The latest time at or before `now` matching `spec` ('mon 09:00', UTC); None when `spec` is empty."""
    if not spec:
        return None
    day, clock = spec.split()
    hour, minute = (int(part) for part in clock.split(":"))
    slot = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    slot -= timedelta(days=(slot.weekday() - WEEKDAYS.index(day)) % 7)
    return slot if slot <= now else slot - timedelta(days=7)


def weekly_summary(store: Store, settings: InsightSection, now: datetime) -> str:
    """The last seven days of every chat together, then one line per chat: the staff chat's weekly post."""
    trends = compute_trends(store, now - timedelta(days=7), now, "week", settings.toxic_threshold)
    total = trends.totals()
    total.active_members = members_between(store, None, now - timedelta(days=7), now)
    lines = [summarize(total, 7, "all chats").replace("Insights for", "Weekly insights for", 1)]
    for chat in trends.chats():
        rows = [row for row in trends.rows if row.chat == chat]
        messages = sum(row.messages for row in rows)
        scored = sum(row.scored for row in rows)
        negative = sum(row.negative for row in rows) / scored if scored else 0.0
        lines.append(f"  {chat}: {messages} messages, {negative:.0%} negative")
    return "\n".join(lines)


def members_between(store: Store, chat: str | None, since: datetime, until: datetime) -> int:
    """Distinct members who wrote in [since, until), in `chat` or in every chat."""
    chat_filter = "and c.platform || ':' || c.chat_id = ?" if chat else ""
    row = next(
        iter(
            store.db.query(
                f"""select count(distinct s.user_id) as members from insight_sentiment s
                    join conversations c on c.id = s.conversation_id
                    where s.created_at >= ? and s.created_at < ? {chat_filter}""",
                [since.isoformat(), until.isoformat(), *([chat] if chat else [])],
            )
        )
    )
    return int(row["members"])


class InsightCommands:
    """The admin command; it counts members over the whole period, not per day."""

    def __init__(self, store: Store, settings: InsightSection, now: Callable[[], datetime]) -> None:
        self.store = store
        self.settings = settings
        self.now = now

    def commands(self) -> list[Command]:
        return [
            Command(
                "insights", "community figures for the last days", self._cmd_insights, admin_only=True, usage="[days]"
            )
        ]

    async def _cmd_insights(self, turn: TurnContext, args: str) -> str:
        text = args.strip() or "7"
        if not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
            return f"Usage: /insights [days], with days from 1 to {MAX_DAYS}."
        days = int(text)
        chat = f"{turn.message.platform}:{turn.message.conversation.chat_id}"
        until = self.now()
        trends = await asyncio.to_thread(
            compute_trends, self.store, until - timedelta(days=days), until, "week", self.settings.toxic_threshold, chat
        )
        total = trends.totals()
        total.active_members = await asyncio.to_thread(
            members_between, self.store, chat, until - timedelta(days=days), until
        )
        return summarize(total, days, chat)
