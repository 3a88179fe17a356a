"""The weekly report for the staff chat: the summary text, then each chart as an image, on an APScheduler job.

The job only wakes the feature at the slot ('mon 09:00' UTC); whether the slot was posted already is read from
the database (recorded like an alert), so a restart inside the slot's grace hour posts it once, not twice.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from bot.insight.commands import weekly_summary
from bot.insight.report import CHART_TITLES, build_report, render_charts
from bot.insight.settings import InsightSection
from bot.messages import OutgoingDocument
from bot.store import Store

log = logging.getLogger(__name__)

WEEKLY_JOB_ID = "insight-weekly-report"
CATCH_UP_JOB_ID = "insight-weekly-catch-up"
WEEKLY_GRACE = timedelta(hours=1)
# A slot missed while the bot was down is tried once this long after start, when the adapters are connected.
CATCH_UP_DELAY = timedelta(seconds=60)


@dataclass(frozen=True)
class ChartImage:
    """One PNG chart of the weekly report, with the caption it is posted under."""

    caption: str
    image: OutgoingDocument


@dataclass(frozen=True)
class WeeklyReport:
    """What the staff chat receives: the summary text, then the charts as images."""

    text: str
    charts: tuple[ChartImage, ...]


def build_weekly_report(store: Store, settings: InsightSection, now: datetime) -> WeeklyReport:
    """The last seven days: the text summary and the report's daily charts rendered to PNG bytes."""
    text = weekly_summary(store, settings, now)
    report = build_report(store, 7, now, settings.toxic_threshold)
    charts = []
    with tempfile.TemporaryDirectory(prefix="socialbot-weekly-") as folder:
        for path in render_charts(report, Path(folder)):
            image = OutgoingDocument(f"weekly-{path.name}", path.read_bytes(), "image/png")
            charts.append(ChartImage(CHART_TITLES.get(path.name, path.stem), image))
    return WeeklyReport(text, tuple(charts))


def weekly_trigger(spec: str) -> CronTrigger:
    """The cron trigger of a `weekly_report` setting like 'mon 09:00' (UTC)."""
    day, clock = spec.split()
    hour, minute = clock.split(":")
    return CronTrigger(day_of_week=day, hour=int(hour), minute=int(minute), timezone=UTC)


async def _fire(job: WeeklyReportJob) -> None:
    try:
        await job.post()
    except Exception:
        log.exception("weekly insight report failed; the slot's grace hour is retried by the next start")


class WeeklyReportJob:
    """One AsyncIOScheduler with a cron job that calls `post` at the weekly slot, and a one-off catch-up."""

    def __init__(self, spec: str, post: Callable[[], Awaitable[bool]]) -> None:
        self.spec = spec
        self.post = post
        self._scheduler: AsyncIOScheduler | None = None

    def start(self) -> None:
        """Start the scheduler (needs a running event loop)."""
        scheduler = AsyncIOScheduler(timezone=UTC, jobstores={"default": MemoryJobStore()})
        scheduler.add_job(
            _fire,
            weekly_trigger(self.spec),
            args=[self],
            id=WEEKLY_JOB_ID,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(WEEKLY_GRACE.total_seconds()),
        )
        scheduler.add_job(_fire, DateTrigger(datetime.now(UTC) + CATCH_UP_DELAY), args=[self], id=CATCH_UP_JOB_ID)
        scheduler.start()
        self._scheduler = scheduler

    def fire_now(self) -> None:
        """Move the weekly job's next run to now (the job then goes on at its weekly slots)."""
        if self._scheduler is not None:
            self._scheduler.modify_job(WEEKLY_JOB_ID, next_run_time=datetime.now(UTC))

    def next_run_time(self) -> datetime | None:
        if self._scheduler is None:
            return None
        job = self._scheduler.get_job(WEEKLY_JOB_ID)
        return None if job is None else job.next_run_time

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
