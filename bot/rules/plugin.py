"""The rules feature's declaration (entry point `socialbot.features: rules`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.plugin import FeatureSpec
from bot.rules.schema import rules_migrations
from bot.rules.settings import RulesSection

if TYPE_CHECKING:
    from bot.config import LoadedConfig
    from bot.plugin import Feature


def create(config: LoadedConfig) -> Feature:
    from bot.rules.feature import RulesFeature

    return RulesFeature(config.section(RulesSection))


spec = FeatureSpec(
    "rules",
    create,
    settings_section="rules",
    settings_model=RulesSection,
    migrations=rules_migrations,
    cli_modules=("bot.cli.rules_cmd",),
)
