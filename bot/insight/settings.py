"""The `[insight]` config section: sentiment scoring, alert thresholds and the weekly report."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKLY = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun) ([01]\d|2[0-3]):([0-5]\d)$")


class InsightSection(BaseModel):
    """What the owner may tune about community insight; every field defaults, so the section is optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Score the sentiment of every incoming message and watch for alerts.")
    toxic_threshold: float = Field(
        0.7, ge=0.0, le=1.0, description="Offensive score (stored by the gate) from which a message counts as toxic."
    )
    staff_platform: str = Field("", description="Platform of the staff chat that receives alerts and reports.")
    staff_chat_id: str = Field("", description="Chat/channel id of the staff chat (empty: alerts are only logged).")
    alert_window_hours: float = Field(6.0, gt=0, le=168, description="Recent window an alert looks at.")
    baseline_days: float = Field(7.0, gt=0, le=90, description="How far back the chat's own baseline reaches.")
    min_window_messages: int = Field(10, ge=1, description="Fewer messages than this in the window never alert.")
    negative_spike_ratio: float = Field(
        2.0, gt=1.0, description="Alert when the window's negative share is this many times the baseline share..."
    )
    negative_spike_min_share: float = Field(
        0.35, ge=0.0, le=1.0, description="...and at least this share of the window's messages."
    )
    toxicity_surge_ratio: float = Field(2.0, gt=1.0, description="Same for the toxic share against the baseline...")
    toxicity_surge_min_share: float = Field(0.15, ge=0.0, le=1.0, description="...and at least this toxic share.")
    question_burst_count: int = Field(
        5, ge=2, description="Alert when this many members ask the same question within the window."
    )
    question_similarity: float = Field(
        0.8, gt=0.0, le=1.0, description="Cosine similarity from which two questions count as the same one."
    )
    unanswered_count: int = Field(
        5, ge=1, description="Alert when this many questions in the window were declined or handed off."
    )
    alert_cooldown_hours: float = Field(
        12.0, ge=0, description="The same kind of alert for the same chat is sent at most once per this period."
    )
    check_interval_s: float = Field(300.0, ge=5, description="How often the alert checks run.")
    weekly_report: str = Field(
        "", description="When the weekly summary goes to the staff chat, e.g. 'mon 09:00' UTC (empty: never)."
    )

    @field_validator("weekly_report")
    @classmethod
    def _weekly_report_time(cls, value: str) -> str:
        value = value.strip().lower()
        if value and _WEEKLY.match(value) is None:
            raise ValueError("expected a weekday and a UTC time like 'mon 09:00', or empty")
        return value
