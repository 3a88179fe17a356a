"""The `[policy]` config section (kept in this package; `bot.config` only references it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PolicySection(BaseModel):
    """How turns are told apart and answered: curated small talk, grounded business answers, checked model text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        True,
        description="Decide what each addressed message is and answer it accordingly (off: every message the "
        "features do not take goes to the plain model).",
    )
    model_small_talk: bool = Field(
        False,
        description="Let the model answer small talk the curated set only nearly matches, instead of the curated "
        "reply of the nearest kind (its reply is checked; a failed check falls back to the curated reply). Off by "
        "default: the bundled 135M model's replies to such messages passed the checks but were off-topic.",
    )
    semantic_small_talk: bool = Field(
        False,
        description="Also take a message for small talk by its meaning (multilingual sentence vectors near the "
        "curated examples, `bot/policy/small_talk_semantic.py`) when no example matches it word by word; never a "
        "message with a business word. It gets the closest example's curated reply unless the knowledge base "
        "answers it confidently. Off by default: on our conversation set it took 'Vocês têm música ao vivo?' (a "
        "question to the business without a business word) for small talk.",
    )
    model_other: bool = Field(
        True,
        description="Let the model answer messages that are neither small talk nor about the business (checked "
        "for business claims, language and degeneration; a failed check falls back to a fixed text).",
    )
    max_new_tokens: int = Field(48, ge=8, le=512, description="Length limit of the model's checked replies.")
