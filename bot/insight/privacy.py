"""How export and forget treat the insight tables, declared beside them (registered when the schema is imported).

A member's sentiment rows go with their messages; the outcome and response time of the bot's replies to them
go with those replies. An alert that pointed at one of their messages stays (its kind, chat and time), but its
summary, which can quote a question they asked, is replaced.
"""

from __future__ import annotations

from bot.privacy.registry import DECLARED, MEMBER_MESSAGES, REPLIES_TO_MEMBER, TablePolicy

FORGOTTEN_SUMMARY = "(summary removed: it pointed at a message of a member who asked to be forgotten)"

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
    TablePolicy(
        "insight_alerts",
        f"exists (select 1 from json_each(insight_alerts.message_ids) where value in ({MEMBER_MESSAGES}))",
        "anonymise",
        ("message_ids",),
        {"summary": FORGOTTEN_SUMMARY},
        reason="the alert stays (kind, chat, time), without the member's words",
    ),
)


def register() -> None:
    """Add the insight policies to the privacy registry once."""
    for policy in INSIGHT_POLICIES:
        if policy not in DECLARED:
            DECLARED.append(policy)
