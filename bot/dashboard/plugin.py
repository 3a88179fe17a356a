"""The dashboard's declaration (entry point `socialbot.features: dashboard`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.dashboard.schema import dashboard_migrations
from bot.dashboard.settings import PASSWORD, DashboardSection
from bot.plugin import FeatureSpec

if TYPE_CHECKING:
    from bot.config import LoadedConfig
    from bot.plugin import Feature


def create(config: LoadedConfig) -> Feature:
    from bot.dashboard.feature import DashboardFeature

    return DashboardFeature()


spec = FeatureSpec(
    "dashboard",
    create,
    settings_section="dashboard",
    settings_model=DashboardSection,
    secrets=(PASSWORD,),
    migrations=dashboard_migrations,
    cli_modules=("bot.cli.dashboard_cmd",),
    # Serves pages over the other features, so it starts after them.
    after=("automod", "insight", "kb", "memory", "policy", "privacy", "rules", "scheduling", "suggest"),
)
