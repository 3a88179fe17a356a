"""The scheduling feature: the scheduling commands, the posting service and its APScheduler jobs.

install() registers the commands; start() resolves posts a crash left half-sent, catches up what fell due
while the bot was down, and starts the scheduler; stop() lets a send in progress finish, then shuts it down.
"""

from __future__ import annotations

import logging

from bot.config import ConfigError, LoadedConfig, section_values
from bot.plugin import BaseFeature, FeatureContext
from bot.scheduling import SchedulingError
from bot.scheduling.clock import Clock, SystemClock
from bot.scheduling.commands import ScheduleCommands
from bot.scheduling.outbox import Outbox
from bot.scheduling.runner import SchedulerRunner
from bot.scheduling.service import PostingService, SchedulerSettings
from bot.scheduling.settings import SchedulerSection
from bot.scheduling.timing import zone
from bot.suggest.drafts import DraftStore

log = logging.getLogger(__name__)


def scheduler_settings(config: LoadedConfig) -> SchedulerSettings:
    section = config.section(SchedulerSection)
    try:
        zone(section.timezone)
    except SchedulingError as exc:
        raise ConfigError(config.source, "scheduler.timezone", str(exc)) from None
    return SchedulerSettings(
        **section_values(
            section, SchedulerSettings, idempotent_platforms=idempotent_platforms(section.idempotent_platforms)
        )
    )


def idempotent_platforms(configured: list[str] | None) -> tuple[str, ...]:
    """The platforms an interrupted post may be resent on: as configured, else those whose platform drops a
    repeated post with the same key (`PlatformSpec.dedupes_posts`)."""
    if configured is not None:
        return tuple(configured)
    from bot.plugin_registry import platform_specs

    return tuple(spec.name for spec in platform_specs() if spec.dedupes_posts)


class SchedulingFeature(BaseFeature):
    """Exactly-once scheduled posting of approved drafts (suggestions are the `suggest` feature's)."""

    name = "scheduling"

    def __init__(self, clock: Clock | None = None, run_scheduler: bool = True) -> None:
        self.clock = clock or SystemClock()
        # Tests drive `service.run_due()` themselves; the bot lets APScheduler do it.
        self.run_scheduler = run_scheduler
        self.service: PostingService | None = None
        self.runner: SchedulerRunner | None = None

    def install(self, context: FeatureContext) -> None:
        # Found by type by what manages it (the dashboard), never by its name.
        context.services.provide(self)
        self.service = PostingService(
            Outbox(context.store),
            DraftStore(context.store),
            context.senders,
            self.clock,
            scheduler_settings(context.config),
            on_schedules_changed=self._schedules_changed,
        )
        for command in ScheduleCommands(self.service).commands():
            context.add_command(command)

    async def start(self) -> None:
        assert self.service is not None, "install() first"
        await self.service.recover()
        await self.service.run_due()
        if self.run_scheduler:
            self.runner = SchedulerRunner(self.service)
            self.runner.start()

    async def platform_connected(self, platform: str) -> None:
        """A platform just connected: send what is due now instead of waiting for the next sweep."""
        if self.service is not None:
            await self.service.run_due()

    async def stop(self) -> None:
        if self.service is not None:
            await self.service.stop()
        if self.runner is not None:
            self.runner.stop()
            self.runner = None

    def _schedules_changed(self) -> None:
        if self.runner is not None:
            self.runner.sync()
