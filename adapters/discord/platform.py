"""Discord's declaration (entry point `socialbot.platforms: discord`): what the core knows of it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.platform import Adapter, PlatformContext, PlatformSpec

if TYPE_CHECKING:
    from bot.config import LoadedConfig


def create(context: PlatformContext) -> Adapter:
    from adapters.discord import create_adapter

    return create_adapter(context)


def configured(config: LoadedConfig) -> bool:
    return config.secrets.discord_bot_token is not None


def group_reply_mode(config: LoadedConfig) -> str:
    return config.settings.discord.guild_reply_mode


# Discord drops a repeated post with the same nonce (enforce_nonce), so an interrupted scheduled post is resent.
spec = PlatformSpec("discord", create, configured, group_reply_mode=group_reply_mode, dedupes_posts=True)
