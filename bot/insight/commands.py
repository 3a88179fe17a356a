"""`/insights [days]`: the chat's figures for its admins, in aggregate (nobody's own sentiment is shown)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.insight.settings import InsightSection
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
        total.active_members = await asyncio.to_thread(self._members, chat, until - timedelta(days=days), until)
        return summarize(total, days, chat)

    def _members(self, chat: str, since: datetime, until: datetime) -> int:
        row = next(
            iter(
                self.store.db.query(
                    """select count(distinct m.user_id) as members from messages m
                       join conversations c on c.id = m.conversation_id
                       where m.role = 'user' and c.platform || ':' || c.chat_id = ?
                       and m.created_at >= ? and m.created_at < ?""",
                    [chat, since.isoformat(), until.isoformat()],
                )
            )
        )
        return int(row["members"])
