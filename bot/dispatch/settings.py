"""`[delivery]`: how the one way in and the one way out behave across restarts and stops."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DeliverySection(BaseModel):
    """Recovery, shutdown and redelivery settings, the same for every platform."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shutdown_grace_s: float = Field(
        15.0, ge=0, description="On stop, how long replies in flight may finish before the rest is left owed."
    )
    redelivery: Literal["at_least_once", "at_most_once"] = Field(
        "at_least_once",
        description=(
            "A reply whose send was attempted but never confirmed on a platform that cannot deduplicate sends "
            "(Telegram): resent once (at_least_once), or marked unknown and reported to staff (at_most_once)."
        ),
    )
    stale_after_s: float = Field(
        1800.0, ge=0, description="At start, a stored unanswered message older than this is stale."
    )
    stale_messages: Literal["apologise", "skip"] = Field(
        "apologise", description="Answer stale messages with a short apology first, or skip them."
    )
    stale_apology: str = Field(
        "Sorry for the late answer, I was offline for a while.",
        description="Put before the answer to a stale message (in the bot's main language).",
    )
    staff_platform: str = Field("", description="Platform of the chat told about replies that may not have gone out.")
    staff_chat_id: str = Field("", description="Chat/channel id of that staff chat (empty: only logged).")
