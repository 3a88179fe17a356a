"""Reading `when` as people type it, and finding which slots fell due."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.scheduling import SchedulingError
from bot.scheduling.timing import (
    Timing,
    build_trigger,
    from_db_time,
    latest_due_slot,
    parse_duration,
    parse_when,
    to_db_time,
)

NOW = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", Timing("once", to_db_time(NOW))),
        ("in 10m", Timing("once", to_db_time(NOW + timedelta(minutes=10)))),
        ("in 1h30m", Timing("once", to_db_time(NOW + timedelta(minutes=90)))),
        ("every 2 hours", Timing("interval", "7200")),
        ("daily 09:30", Timing("cron", "30 9 * * *")),
        ("cron 0 9 * * mon", Timing("cron", "0 9 * * mon")),
        # 10:00 in Paris in March (UTC+1) is 09:00 UTC
        ("2030-03-04 10:00", Timing("once", to_db_time(datetime(2030, 3, 4, 9, 0, tzinfo=UTC)))),
        ("at 2030-03-04T10:00+00:00", Timing("once", to_db_time(datetime(2030, 3, 4, 10, 0, tzinfo=UTC)))),
    ],
)
def test_when_is_read_in_the_configured_timezone(text: str, expected: Timing) -> None:
    assert parse_when(text, PARIS, NOW) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "tomorrow-ish",
        "in ten minutes",
        "every 5s",
        "daily 25:00",
        "cron 0 9 * *",
        "2020-01-01 10:00",
        "in 3 fortnights",
    ],
)
def test_unreadable_or_past_when_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(SchedulingError):
        parse_when(text, PARIS, NOW)


@given(st.text(max_size=40))
def test_parse_when_never_crashes_on_any_text(text: str) -> None:
    with contextlib.suppress(SchedulingError):
        parse_when(text, PARIS, NOW)


@given(st.integers(min_value=1, max_value=10**5), st.sampled_from(["s", "m", "h", "d"]))
def test_durations_round_trip(amount: int, unit: str) -> None:
    assert parse_duration(f"{amount}{unit}") == amount * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def test_db_times_sort_like_the_times_they_name() -> None:
    moments = [NOW, NOW + timedelta(microseconds=1), NOW + timedelta(seconds=1), NOW + timedelta(days=400)]
    assert sorted(to_db_time(moment) for moment in moments) == [to_db_time(moment) for moment in moments]
    assert all(from_db_time(to_db_time(moment)) == moment for moment in moments)


def test_latest_due_slot_counts_the_missed_runs() -> None:
    trigger = build_trigger(Timing("interval", "3600"), UTC, NOW)
    due = latest_due_slot(trigger, NOW, NOW + timedelta(hours=5, minutes=3))
    assert due is not None
    assert (due.slot, due.count) == (NOW + timedelta(hours=5), 5)
    assert latest_due_slot(trigger, NOW, NOW + timedelta(minutes=59)) is None


def test_latest_due_slot_after_a_very_long_downtime_is_found_without_walking_every_slot() -> None:
    trigger = build_trigger(Timing("cron", "* * * * *"), UTC, NOW)
    later = NOW + timedelta(days=60, seconds=30)
    due = latest_due_slot(trigger, NOW, later)
    assert due is not None and due.slot == NOW + timedelta(days=60)


def test_daily_schedule_follows_local_time_across_daylight_saving() -> None:
    trigger = build_trigger(Timing("cron", "0 9 * * *"), PARIS, NOW)
    before = latest_due_slot(trigger, NOW, datetime(2030, 3, 30, 12, 0, tzinfo=UTC))
    after = latest_due_slot(trigger, NOW, datetime(2030, 4, 1, 12, 0, tzinfo=UTC))
    assert before is not None and before.slot.hour == 8  # 09:00 CET
    assert after is not None and after.slot.hour == 7  # 09:00 CEST
