"""How export and forget treat the insight tables, declared beside them (registered when the schema is imported).

A member's sentiment rows go with their messages; the outcome and response time of the bot's replies to them
go with those replies.
"""

from __future__ import annotations

from bot.privacy.registry import DECLARED, MEMBER_MESSAGES, REPLIES_TO_MEMBER, TablePolicy

INSIGHT_POLICIES = (
    TablePolicy(
        "insight_sentiment", f"message_id in ({MEMBER_MESSAGES})", "delete", ("message_id", "user_id"), order=10
    ),
    TablePolicy(
        "insight_replies",
        f"question_id in ({MEMBER_MESSAGES}) or message_id in ({REPLIES_TO_MEMBER}) "
        f"or message_id in ({MEMBER_MESSAGES})",
        "delete",
        ("message_id", "question_id"),
        reason="outcome and response time of the bot's replies to the member",
        order=10,
    ),
)


def register() -> None:
    """Add the insight policies to the privacy registry once."""
    for policy in INSIGHT_POLICIES:
        if policy not in DECLARED:
            DECLARED.append(policy)
