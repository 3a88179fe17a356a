"""The scheduling feature's declaration (entry point `socialbot.features: scheduling`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.plugin import FeatureSpec
from bot.scheduling.schema import scheduling_migrations
from bot.scheduling.settings import SchedulerSection

if TYPE_CHECKING:
    from bot.config import LoadedConfig
    from bot.plugin import Feature


def create(config: LoadedConfig) -> Feature:
    from bot.scheduling.feature import SchedulingFeature

    return SchedulingFeature()


spec = FeatureSpec(
    "scheduling",
    create,
    settings_section="scheduler",
    settings_model=SchedulerSection,
    migrations=scheduling_migrations,
    cli_modules=("bot.cli.schedule_cmd",),
)
