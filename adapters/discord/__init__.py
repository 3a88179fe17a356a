"""The Discord adapter: discord.py's gateway and REST client in front of socialbot's manager."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from adapters.discord.settings import TOKEN
from bot.platform import PlatformContext

if TYPE_CHECKING:
    from adapters.discord.adapter import DiscordAdapter
    from adapters.discord.errors import DiscordAdapterError

__all__ = ["DiscordAdapter", "DiscordAdapterError", "create_adapter"]

# discord.py is imported on first use, not when the platform's declaration is loaded with the config.
_LAZY = {"DiscordAdapter": "adapters.discord.adapter", "DiscordAdapterError": "adapters.discord.errors"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def create_adapter(app: PlatformContext) -> DiscordAdapter:
    """The Discord adapter for `app`, with the token from DISCORD_BOT_TOKEN or the secrets file.

    Raises `DiscordAdapterError` when no token is configured; the token itself never appears in errors or logs.
    """
    from adapters.discord.adapter import DiscordAdapter
    from adapters.discord.errors import DiscordAdapterError

    token = app.config.secrets.value(TOKEN.key)
    if token is None or not token.get_secret_value().strip():
        raise DiscordAdapterError(
            "no Discord bot token: set DISCORD_BOT_TOKEN (or discord_bot_token in the secrets file)",
            retryable=False,
        )
    return DiscordAdapter(app, token.get_secret_value().strip())
