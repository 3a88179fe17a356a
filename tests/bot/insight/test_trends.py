"""Trends per chat and day/week: counts, members new and returning, sentiment, toxicity, questions, response time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.insight.trends import compute_daily_and_weekly, week_of
from bot.store import Store
from tests.bot.insight.conftest import History

MONDAY = datetime(2026, 11, 2, 10, tzinfo=UTC)


def test_daily_rows_count_messages_members_sentiment_toxicity_and_questions(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    history = History(store)
    history.message(MONDAY, "hello all", user="ann", label="positive")
    history.message(MONDAY + timedelta(hours=1), "this is awful", user="bob", label="negative", offensive=0.9)
    history.message(MONDAY + timedelta(hours=2), "when do you open?", user="ann", outcome="answered")
    history.message(
        MONDAY + timedelta(days=1), "refund?", user="ann", outcome="declined", reply_after=timedelta(seconds=10)
    )
    history.message(MONDAY + timedelta(days=1, hours=1), "a person please", user="cid", outcome="handoff")
    history.message(MONDAY + timedelta(days=1), "other chat", user="ann", chat="chat-2", label="negative")

    trends = compute_daily_and_weekly(store, MONDAY - timedelta(days=1), MONDAY + timedelta(days=7))
    rows = {(row.chat, row.bucket): row for row in trends["day"].rows}
    first = rows[("telegram:chat-1", "2026-11-02")]
    assert (first.messages, first.active_members, first.new_members, first.returning_members) == (3, 2, 2, 0)
    assert (first.negative, first.neutral, first.positive, first.toxic) == (1, 1, 1, 1)
    assert (first.answered, first.declined, first.handoffs) == (1, 0, 0)
    assert first.mean_response_s is not None and abs(first.mean_response_s - 4.0) < 0.01
    second = rows[("telegram:chat-1", "2026-11-03")]
    assert (second.messages, second.active_members, second.new_members, second.returning_members) == (2, 2, 1, 1)
    assert (second.declined, second.handoffs) == (1, 1)
    assert second.mean_response_s is not None and abs(second.mean_response_s - 7.0) < 0.01
    assert rows[("telegram:chat-2", "2026-11-03")].new_members == 1

    weekly = {(row.chat, row.bucket): row for row in trends["week"].rows}
    week = weekly[("telegram:chat-1", "2026-11-02")]
    assert (week.messages, week.active_members, week.new_members, week.returning_members) == (5, 3, 3, 0)
    assert (week.answered, week.declined, week.handoffs, week.toxic) == (1, 1, 1, 1)
    assert trends["day"].totals().messages == 6


def test_a_member_seen_before_the_period_counts_as_returning(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    history = History(store)
    history.message(MONDAY - timedelta(days=20), "long ago", user="ann")
    history.message(MONDAY, "back again", user="ann")
    day = compute_daily_and_weekly(store, MONDAY - timedelta(days=1), MONDAY + timedelta(days=1))["day"].rows[0]
    assert (day.active_members, day.new_members, day.returning_members) == (1, 0, 1)


def test_weeks_start_on_monday() -> None:
    assert week_of("2026-11-08") == "2026-11-02"
    assert week_of("2026-11-09T00:10:00+00:00") == "2026-11-09"
