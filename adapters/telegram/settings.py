"""`[telegram]`: the Telegram adapter's settings (its token is a secret, never here)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from bot.config import SecretSpec, Section

# The bot token: from this environment variable or this key of the secrets file, never from the config.
TOKEN = SecretSpec("telegram_bot_token", "TELEGRAM_BOT_TOKEN", "the bot token from @BotFather")


# Keys a release stopped reading: a config that still sets one fails to load saying what replaced it.
RETIRED_KEYS = {
    "telegram.shutdown_grace_s": "no longer used: the grace period on stop is [delivery] shutdown_grace_s",
    "telegram.max_inflight_updates": "no longer used: every update is stored as it arrives, then answered",
    "telegram.busy_poll_interval_s": "no longer used: getUpdates is called again as soon as a batch is stored",
}


class TelegramSection(Section):
    """How the bot talks to the Bot API: polling or webhook, flood limits, retries, group replies."""

    base_url: str = Field(
        "https://api.telegram.org/bot", description="Bot API base URL (a self-hosted Bot API server: its URL + /bot)."
    )
    base_file_url: str = Field("https://api.telegram.org/file/bot", description="Bot API file download base URL.")
    mode: Literal["polling", "webhook"] = Field("polling", description="Long polling, or a webhook server.")
    webhook_listen: str = Field("127.0.0.1", description="Address the webhook server listens on.")
    webhook_port: int = Field(8443, ge=0, le=65535, description="Port the webhook server listens on.")
    webhook_path: str = Field("/telegram", description="Path Telegram posts updates to.")
    webhook_url: str = Field("", description="Public https URL registered with Telegram (required in webhook mode).")
    poll_timeout_s: int = Field(30, ge=0, description="Long-poll timeout of getUpdates.")
    group_reply_mode: Literal["mention", "always", "silent"] = "mention"
    admin_cache_s: int = Field(300, ge=0)
    show_progress: bool = False
    typing_interval_s: float = Field(4.0, gt=0, description="How often the 'typing…' action is refreshed.")
    flood_messages_per_s: float = Field(30, ge=0, description="Messages per second for the whole bot; 0 = off.")
    flood_chat_interval_s: float = Field(1.0, ge=0, description="Seconds between messages in one chat; 0 = off.")
    flood_group_messages_per_min: int = Field(20, ge=0, description="Messages per minute in a group; 0 = off.")
    flood_max_retries: int = Field(5, ge=0, description="Retries of a request Telegram answered with 429.")
    network_retries: int = Field(3, ge=0, description="Retries of a request that failed on the network or 5xx.")
    network_backoff_s: float = Field(1.0, ge=0, description="First wait before a network retry; doubles each time.")
