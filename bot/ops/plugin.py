"""The ops server's declaration (entry point `socialbot.features: ops`): only `socialbot run` serves it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.ops.settings import MetricsSection
from bot.plugin import FeatureSpec

if TYPE_CHECKING:
    from bot.config import LoadedConfig
    from bot.plugin import Feature


def create(config: LoadedConfig) -> Feature:
    from bot.ops.feature import OpsFeature

    return OpsFeature(config.section(MetricsSection))


spec = FeatureSpec(
    "ops",
    create,
    settings_section="metrics",
    settings_model=MetricsSection,
    cli_modules=("bot.cli.ops_cmd",),
    default=False,
    after=("dashboard",),
)
