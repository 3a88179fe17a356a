"""The `[privacy]` config section: long-term memory switches and how long each kind of row is kept."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PrivacySection(BaseModel):
    """Memory and retention (issue 19). A retention of 0 days keeps those rows until someone deletes them."""

    # Same rules as bot.config.Section (unknown keys are errors, frozen); not imported from there, since
    # bot.config imports this module.
    model_config = ConfigDict(extra="forbid", frozen=True)

    memory: bool = Field(True, description="Remember facts members state about themselves (per chat).")
    memory_prompt_chars: int = Field(
        600, ge=0, le=4000, description="Most characters of remembered facts and summary put in the prompt."
    )
    messages_days: int = Field(180, ge=0, description="Messages older than this are deleted (0: kept).")
    moderation_days: int = Field(365, ge=0, description="Moderation decisions and automod actions (0: kept).")
    tickets_days: int = Field(365, ge=0, description="Closed support tickets, counted from closing (0: kept).")
    logs_days: int = Field(365, ge=0, description="Audit log entries and event bookkeeping (0: kept).")
    memory_days: int = Field(0, ge=0, description="Remembered facts not restated for this long (0: kept).")
    retention_hour_utc: int = Field(3, ge=0, le=23, description="Hour (UTC) the daily retention job runs.")
    vacuum: bool = Field(True, description="Reclaim the space of removed rows (VACUUM) after the daily job.")
