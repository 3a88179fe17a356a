"""When a schedule fires: parsing what people type (`in 10m`, `daily 09:00`, `cron 0 9 * * mon`, a date),
building the APScheduler trigger for it, and finding the slots that fell due in a span of time.

APScheduler's triggers are used only as calculators here; which slot was claimed is the outbox's business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.scheduling import SchedulingError

TimingKind = Literal["once", "interval", "cron"]
DB_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
MIN_INTERVAL_S = 60
ONE_MICROSECOND = timedelta(microseconds=1)
# Stepping slot by slot beyond this many (an every-minute schedule down for weeks) switches to probing.
MAX_STEPS = 500

_UNITS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
}
_DURATION_PART = re.compile(r"(\d{1,6})\s*([a-z]+)")
_CLOCK_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")

WHEN_HELP = (
    "when: 'now', 'in 10m', a date like '2025-06-01 09:00', 'every 2h', 'daily 09:00' "
    "or 'cron <minute> <hour> <day> <month> <weekday>' (weekdays as mon..sun)"
)


@dataclass(frozen=True)
class Timing:
    """A parsed `when`: a single moment (UTC ISO), an interval in seconds, or a 5-field cron expression."""

    kind: TimingKind
    spec: str

    def describe(self) -> str:
        if self.kind == "once":
            return f"once at {self.spec}"
        if self.kind == "interval":
            return f"every {format_duration(int(self.spec))}"
        return f"cron '{self.spec}'"


def to_db_time(moment: datetime) -> str:
    """A UTC timestamp string that sorts like the time it names (fixed width, microseconds always)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC).strftime(DB_TIME_FORMAT)


def from_db_time(text: str) -> datetime:
    return datetime.strptime(text, DB_TIME_FORMAT).replace(tzinfo=UTC)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SchedulingError(f"unknown timezone '{name}' (use an IANA name like 'Europe/Paris' or 'UTC')") from None


def format_duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_duration(text: str) -> int:
    """Seconds in '10m', '1h30m', '2 hours'; raises SchedulingError on anything else."""
    compact = text.strip().lower()
    parts = _DURATION_PART.findall(compact)
    if not parts or _DURATION_PART.sub("", compact).strip():
        raise SchedulingError(f"'{text}' is not a duration (try '10m', '2h' or '1d')")
    total = 0
    for amount, unit in parts:
        if unit not in _UNITS:
            raise SchedulingError(f"unknown time unit '{unit}' (use s, m, h, d or w)")
        total += int(amount) * _UNITS[unit]
    return total


def parse_when(text: str, timezone: tzinfo, now: datetime) -> Timing:
    """Read a `when` as people type it; naive dates are in `timezone`. Raises SchedulingError."""
    words = text.strip().split()
    if not words:
        raise SchedulingError(f"missing time; {WHEN_HELP}")
    head, rest = words[0].lower(), " ".join(words[1:])
    if head == "now" and not rest:
        return Timing("once", to_db_time(now))
    if head == "in":
        return Timing("once", to_db_time(now + timedelta(seconds=parse_duration(rest))))
    if head == "every":
        seconds = parse_duration(rest)
        if seconds < MIN_INTERVAL_S:
            raise SchedulingError(f"the shortest interval is {MIN_INTERVAL_S}s")
        return Timing("interval", str(seconds))
    if head == "daily":
        match = _CLOCK_TIME.match(rest)
        if not match:
            raise SchedulingError("daily needs a time like 'daily 09:00'")
        return Timing("cron", f"{int(match.group(2))} {int(match.group(1))} * * *")
    if head == "cron":
        build_trigger(Timing("cron", rest), timezone, now)
        return Timing("cron", rest)
    moment_text = rest if head == "at" else text.strip()
    try:
        moment = datetime.fromisoformat(moment_text)
    except ValueError:
        raise SchedulingError(f"cannot read '{text}'; {WHEN_HELP}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone)
    if moment < now - timedelta(minutes=1):
        raise SchedulingError(f"{moment.isoformat()} is in the past")
    return Timing("once", to_db_time(max(moment, now)))


def build_trigger(timing: Timing, timezone: tzinfo, created_at: datetime) -> BaseTrigger:
    """The APScheduler trigger for a timing; intervals count from the schedule's creation."""
    try:
        if timing.kind == "once":
            return DateTrigger(run_date=from_db_time(timing.spec), timezone=timezone)
        if timing.kind == "interval":
            seconds = int(timing.spec)
            return IntervalTrigger(
                seconds=seconds, start_date=created_at + timedelta(seconds=seconds), timezone=timezone
            )
        return CronTrigger.from_crontab(timing.spec, timezone=timezone)
    except ValueError as exc:
        raise SchedulingError(f"invalid {timing.kind} '{timing.spec}': {exc}") from None


def next_at_or_after(trigger: BaseTrigger, moment: datetime) -> datetime | None:
    """The first fire time of `trigger` at or after `moment` (UTC), or None when it never fires again."""
    if isinstance(trigger, DateTrigger):
        run_date: datetime = trigger.run_date
        return run_date.astimezone(UTC) if run_date >= moment else None
    fire: datetime | None = trigger.get_next_fire_time(None, moment)
    return fire.astimezone(UTC) if fire is not None else None


@dataclass(frozen=True)
class DueSlot:
    """The latest slot due in a span, and how many slots fell in it (more than one: missed runs coalesce)."""

    slot: datetime
    count: int


def latest_due_slot(trigger: BaseTrigger, after: datetime, now: datetime) -> DueSlot | None:
    """The last fire time in [after, now] and the number of fire times there, None when there is none."""
    first = next_at_or_after(trigger, after)
    if first is None or first > now:
        return None
    slot, count = first, 1
    while count < MAX_STEPS:
        following = next_at_or_after(trigger, slot + ONE_MICROSECOND)
        if following is None or following > now:
            return DueSlot(slot, count)
        slot, count = following, count + 1
    # Very many slots: look back from `now` in growing steps for the last one instead of walking to it.
    span = timedelta(seconds=1)
    while True:
        start = max(now - span, slot + ONE_MICROSECOND)
        candidate = next_at_or_after(trigger, start)
        if candidate is not None and candidate <= now:
            break
        if start == slot + ONE_MICROSECOND:
            return DueSlot(slot, count)
        span *= 2
    while (following := next_at_or_after(trigger, candidate + ONE_MICROSECOND)) is not None and following <= now:
        candidate = following
    return DueSlot(candidate, count + 1)
