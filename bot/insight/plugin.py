"""The insight feature's declaration (entry point `socialbot.features: insight`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.insight.schema import insight_migrations
from bot.insight.settings import InsightSection
from bot.plugin import FeatureSpec

if TYPE_CHECKING:
    from bot.config import LoadedConfig
    from bot.plugin import Feature


def create(config: LoadedConfig) -> Feature:
    from bot.insight.feature import InsightFeature

    return InsightFeature(config.section(InsightSection))


spec = FeatureSpec(
    "insight",
    create,
    settings_section="insight",
    settings_model=InsightSection,
    migrations=insight_migrations,
    cli_modules=("bot.cli.insight_cmd",),
    after=("kb",),  # its CLI adds `kb gaps` to the kb group
)
