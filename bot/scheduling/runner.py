"""A small facade over APScheduler 3 (AsyncIOScheduler, MemoryJobStore only): the alarm clock that wakes
the posting service when a schedule fires, plus a periodic sweep for retries and schedules added elsewhere.

Jobs hold no state worth keeping: they are rebuilt from the `schedules` table at start and whenever the
table changes, so losing them in a crash loses nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.scheduling import SchedulingError
from bot.scheduling.service import PostingService

log = logging.getLogger(__name__)

SWEEP_JOB_ID = "outbox-sweep"
JOB_PREFIX = "schedule-"


async def _wake(runner: SchedulerRunner) -> None:
    """Job callback: deliver what is due, then bring the job list in line with the table."""
    try:
        await runner.service.run_due()
        runner.sync()
    except Exception:
        log.exception("scheduled run failed; the next sweep tries again")


class SchedulerRunner:
    """Runs one AsyncIOScheduler whose jobs mirror the active schedules."""

    def __init__(self, service: PostingService) -> None:
        self.service = service
        self._scheduler: AsyncIOScheduler | None = None

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    def start(self) -> None:
        """Start the scheduler (needs a running event loop) with the sweep and one job per schedule."""
        scheduler = AsyncIOScheduler(
            timezone=self.service.timezone,
            jobstores={"default": MemoryJobStore()},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        scheduler.add_job(
            _wake, IntervalTrigger(seconds=self.service.settings.poll_interval_s), args=[self], id=SWEEP_JOB_ID
        )
        scheduler.start()
        self._scheduler = scheduler
        self.sync()

    def job_ids(self) -> list[str]:
        return sorted(job.id for job in self._scheduler.get_jobs()) if self._scheduler else []

    def next_run_time(self, job_id: str) -> datetime | None:
        job = self._scheduler.get_job(job_id) if self._scheduler else None
        return job.next_run_time if job is not None else None

    def sync(self) -> None:
        """Add jobs for new active schedules, drop jobs of finished or cancelled ones."""
        if self._scheduler is None:
            return
        wanted = {f"{JOB_PREFIX}{schedule.id}": schedule for schedule in self.service.outbox.active_schedules()}
        for job in self._scheduler.get_jobs():
            if job.id.startswith(JOB_PREFIX) and job.id not in wanted:
                job.remove()
        now = self.service.clock.now()
        for job_id, schedule in wanted.items():
            if self._scheduler.get_job(job_id) is not None:
                continue
            try:
                trigger = self.service.trigger_for(schedule)
            except SchedulingError:
                continue
            if schedule.timing.kind == "once" and (self.service.next_slot(schedule) or now) <= now:
                continue  # already due: the sweep (and the run after start) handles it
            self._scheduler.add_job(_wake, trigger, args=[self], id=job_id)

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
