"""The automod feature's declaration (entry point `socialbot.features: automod`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.automod.schema import migrations
from bot.automod.settings import AutomodSection
from bot.plugin import FeatureSpec

if TYPE_CHECKING:
    from bot.config import LoadedConfig
    from bot.plugin import Feature


def create(config: LoadedConfig) -> Feature:
    from bot.automod.feature import automod_feature

    return automod_feature(config.section(AutomodSection))


spec = FeatureSpec(
    "automod",
    create,
    settings_section="automod",
    settings_model=AutomodSection,
    migrations=migrations,
    cli_modules=("bot.cli.modlog_cmd",),
)
