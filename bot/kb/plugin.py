"""The knowledge-base feature's declaration (entry point `socialbot.features: kb`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.kb.schema import kb_migrations
from bot.kb.settings import KbSection
from bot.plugin import FeatureSpec

if TYPE_CHECKING:
    from bot.config import LoadedConfig
    from bot.plugin import Feature


def create(config: LoadedConfig) -> Feature:
    from bot.kb.feature import KbFeature

    return KbFeature()


spec = FeatureSpec(
    "kb",
    create,
    settings_section="kb",
    settings_model=KbSection,
    migrations=kb_migrations,
    cli_modules=("bot.cli.kb_cmd",),
)
