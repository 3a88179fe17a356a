"""The suggestions feature's declaration (entry point `socialbot.features: suggest`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.plugin import FeatureSpec
from bot.suggest.settings import SuggestSection

if TYPE_CHECKING:
    from bot.config import LoadedConfig
    from bot.plugin import Feature


def create(config: LoadedConfig) -> Feature:
    from bot.suggest.feature import SuggestFeature

    return SuggestFeature()


# The drafts table is created by the scheduling migrations (it was there first), so it installs after them.
spec = FeatureSpec("suggest", create, settings_section="suggest", settings_model=SuggestSection, after=("scheduling",))
