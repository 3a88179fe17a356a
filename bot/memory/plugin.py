"""The memory feature's declaration (entry point `socialbot.features: memory`); it reads `[privacy]`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.memory.schema import memory_migrations
from bot.plugin import FeatureSpec

if TYPE_CHECKING:
    from bot.config import LoadedConfig
    from bot.plugin import Feature


def create(config: LoadedConfig) -> Feature:
    from bot.memory.feature import MemoryFeature

    return MemoryFeature()


spec = FeatureSpec("memory", create, migrations=memory_migrations, cli_modules=("bot.cli.memory_cmd",))
