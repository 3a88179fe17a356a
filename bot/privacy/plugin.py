"""The privacy feature's declaration (entry point `socialbot.features: privacy`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.plugin import FeatureSpec
from bot.privacy.settings import PrivacySection

if TYPE_CHECKING:
    from bot.config import LoadedConfig
    from bot.plugin import Feature


def create(config: LoadedConfig) -> Feature:
    from bot.privacy.feature import PrivacyFeature

    return PrivacyFeature()


spec = FeatureSpec(
    "privacy", create, settings_section="privacy", settings_model=PrivacySection, cli_modules=("bot.cli.privacy_cmd",)
)
