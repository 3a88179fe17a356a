"""`[discord]`: the Discord adapter's settings (its token is a secret, never here)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from bot.config import SecretSpec, Section

# The bot token: from this environment variable or this key of the secrets file, never from the config.
TOKEN = SecretSpec("discord_bot_token", "DISCORD_BOT_TOKEN", "the bot token from the Developer Portal")


class DiscordSection(Section):
    """Slash-command sync, where the bot may speak and when it answers in guild channels."""

    sync_commands: Literal["global", "guild", "off"] = Field(
        "global", description="Register slash commands globally, only in command_guild_ids, or not at all."
    )
    command_guild_ids: list[int] = Field(
        default_factory=list, description="Guilds whose slash commands are synced when sync_commands = 'guild'."
    )
    admin_role: str = Field("", description="Role name (or id) that may use admin commands besides Manage Server.")
    allowed_channels: dict[str, list[int]] = Field(
        default_factory=dict,
        description="guild id -> channel ids the bot may speak in, threads included (no entry: all channels).",
    )
    guild_reply_mode: Literal["mention", "always", "silent"] = Field(
        "mention",
        description="In guild channels answer when mentioned/replied to, every message, or only slash commands.",
    )
    show_progress: bool = Field(False, description="Reserved: show generation progress (not used yet).")
    guild_ready_timeout_s: float = Field(
        2.0, gt=0, le=60, description="Seconds to wait for guild data after connecting before going live."
    )
