"""The turn policy's declaration (entry point `socialbot.features: policy`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.plugin import FeatureSpec
from bot.policy.settings import PolicySection

if TYPE_CHECKING:
    from bot.config import LoadedConfig
    from bot.plugin import Feature


def create(config: LoadedConfig) -> Feature:
    from bot.policy.feature import PolicyFeature

    return PolicyFeature()


# After kb: the policy asks the knowledge base (found as a service) when one is installed.
spec = FeatureSpec("policy", create, settings_section="policy", settings_model=PolicySection, after=("kb",))
