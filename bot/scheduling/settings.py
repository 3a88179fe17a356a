"""`[scheduler]`: scheduled posting and its outbox."""

from __future__ import annotations

from pydantic import Field

from bot.config import Section


class SchedulerSection(Section):
    """Scheduled posting (issue 8): the outbox is retried, reported and reconciled with these settings."""

    timezone: str = Field("UTC", description="IANA zone in which schedule times like 'daily 09:00' are read.")
    grace_period_s: float = Field(
        900.0, ge=0, description="A post whose time passed while the bot was down is sent this late at most."
    )
    max_retries: int = Field(5, ge=0, le=20, description="Retries of a post after a retryable delivery error.")
    retry_base_delay_s: float = Field(30.0, gt=0, description="First retry delay; doubles on each retry.")
    retry_max_delay_s: float = Field(1800.0, gt=0, description="Longest delay between two retries.")
    poll_interval_s: float = Field(
        30.0, ge=1, description="How often the outbox is swept (retries, schedules added from the CLI)."
    )
    staff_platform: str = Field("", description="Platform of the chat told about missed/failed/unknown posts.")
    staff_chat_id: str = Field("", description="Chat/channel id of that staff chat (empty: only logged).")
    idempotent_platforms: list[str] | None = Field(
        None,
        description="Platforms that deduplicate sends by key: a post interrupted mid-send is resent there "
        "(default: the installed platforms that declare it, i.e. Discord).",
    )
    idempotency_window_s: float = Field(
        300.0, ge=0, description="How long the platform remembers a key; older interrupted posts are not resent."
    )
