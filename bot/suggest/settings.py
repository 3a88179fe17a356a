"""`[suggest]`: how the model drafts posts."""

from __future__ import annotations

from pydantic import Field

from bot.config import Section


class SuggestSection(Section):
    """Content suggestions (issue 8): how the model drafts posts."""

    max_count: int = Field(5, ge=1, le=10, description="Most drafts one /suggest may ask for.")
    max_new_tokens: int = Field(120, ge=16, le=1024, description="Length limit of one draft.")
    temperature: float = Field(0.85, ge=0.0, le=2.0, description="Sampling temperature of drafts.")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="Nucleus sampling of drafts.")
    repetition_penalty: float = Field(1.15, ge=1.0, le=2.0)
    similarity_threshold: float = Field(
        0.6, gt=0.0, le=1.0, description="Drafts at least this similar (word Jaccard) count as repeats."
    )
    attempts_per_draft: int = Field(3, ge=1, le=10, description="Generation budget per requested draft.")
    recent_days: float = Field(7.0, gt=0, description="Recent topics come from messages of this many days.")
    recent_messages: int = Field(2000, ge=0, description="At most this many recent messages are read.")
    recent_topic_count: int = Field(5, ge=0, le=20, description="Keywords named in the draft prompt.")
