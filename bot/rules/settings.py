"""`[rules]`: auto-reply rules and abuse control."""

from __future__ import annotations

from pydantic import Field

from bot.config import Section


class RulesSection(Section):
    """Auto-reply rules, per-chat settings and abuse control (issue 6)."""

    enabled: bool = Field(True, description="Answer from auto-reply rules before the knowledge base and model.")
    answer_unaddressed: bool = Field(
        True, description="Rules also answer group messages that don't mention the bot (not in silent chats)."
    )
    default_cooldown_s: float = Field(30.0, ge=0.0, description="Seconds before a rule answers again in a chat.")
    semantic_threshold: float = Field(
        0.75, gt=0.0, le=1.0, description="Cosine similarity a 'similar' rule needs, unless the rule sets its own."
    )
    max_rules: int = Field(5000, ge=1, description="Most rules that may be stored.")
    user_capacity: int = Field(8, ge=0, description="Messages to the bot one user may send in a burst (0: no limit).")
    user_refill_per_minute: float = Field(6.0, ge=0.0, description="How fast a user's burst allowance refills.")
    chat_capacity: int = Field(30, ge=0, description="Messages to the bot one chat may send in a burst (0: no limit).")
    chat_refill_per_minute: float = Field(20.0, ge=0.0, description="How fast a chat's burst allowance refills.")
    admins_exempt: bool = Field(True, description="Admins are never rate limited.")
