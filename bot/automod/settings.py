"""`[automod]`: how offensive group messages are acted on."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from bot.config import Section


class AutomodSection(Section):
    enabled: bool = Field(True, description="Act on offensive messages in groups (DMs are never acted on).")
    mode: Literal["off", "log", "warn", "full"] = Field("full", description="Default for every chat.")
    chat_modes: dict[str, Literal["off", "log", "warn", "full"]] = Field(
        default_factory=dict, description="'platform:chat_id' -> mode, overriding `mode` for that chat."
    )
    warn_threshold: float = Field(0.7, ge=0.0, le=1.0)
    delete_threshold: float = Field(0.85, ge=0.0, le=1.0)
    timeout_threshold: float = Field(0.95, ge=0.0, le=1.0)
    timeout_minutes: int = Field(10, ge=1)
    repeat_timeout_minutes: int = Field(60, ge=1)
    escalation_window_minutes: int = Field(1440, ge=1)
    staff_platform: str = Field("", description="Where moderators are notified, e.g. 'telegram'.")
    staff_chat_id: str = Field("", description="Chat/channel id of the moderators' staff channel.")
