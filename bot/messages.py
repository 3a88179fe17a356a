"""Normalized messages that cross the adapter/manager boundary.

Adapters translate platform events into `IncomingMessage` and send `OutgoingMessage`; the manager sees
nothing else, so it never needs to know which platform a message came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class ConversationKey:
    """Identifies one conversation: a chat on a platform, optionally a thread/topic inside it."""

    platform: str
    chat_id: str
    thread_id: str = ""

    @property
    def session_id(self) -> str:
        """`platform:chat:thread`, the string used in logs and locks."""
        return f"{self.platform}:{self.chat_id}:{self.thread_id}"


@dataclass(frozen=True)
class Author:
    """Who wrote a message, as the platform identifies them."""

    user_id: str
    display_name: str = ""
    username: str = ""
    is_bot: bool = False


@dataclass(frozen=True)
class Attachment:
    """A file attached to a message; only its description travels, never its bytes."""

    kind: str  # "photo", "sticker", "document", ...
    file_id: str = ""
    name: str = ""


@dataclass(frozen=True)
class IncomingMessage:
    """A message a person sent, translated from the platform by an adapter."""

    conversation: ConversationKey
    author: Author
    text: str
    platform_message_id: str = ""
    reply_to_message_id: str = ""
    mentions_bot: bool = False
    replies_to_bot: bool = False
    is_direct: bool = False
    is_edit: bool = False
    attachments: tuple[Attachment, ...] = ()
    sent_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Whether the author may use admin commands, as the platform decided (Discord: Manage Server or a
    # configured role; Telegram: chat administrator or configured id; console: the operator).
    author_is_admin: bool = False
    # False where the platform or the owner's channel list forbids the bot to post in this chat: the message
    # is stored and moderated like any other, but never answered.
    may_reply: bool = True

    @property
    def platform(self) -> str:
        return self.conversation.platform

    @property
    def is_addressed_to_bot(self) -> bool:
        """True when the bot is expected to answer: a DM, a mention, or a reply to the bot."""
        return self.is_direct or self.mentions_bot or self.replies_to_bot


@dataclass(frozen=True)
class OutgoingDocument:
    """A file sent with a message (a member's data export); `text` goes with it as the caption."""

    filename: str
    data: bytes
    mime_type: str = "application/json"


@dataclass(frozen=True)
class OutgoingMessage:
    """A reply or post for an adapter to deliver; plain text, never markup."""

    conversation: ConversationKey
    text: str
    reply_to_message_id: str = ""
    # The stored row this message came from, so an adapter can record the platform id once it is sent.
    stored_message_id: int | None = None
    # Kind of output: "reply", "notice" (busy/rate-limited/refusal), "post" (scheduled) or "staff".
    kind: str = "reply"
    # Deterministic key for platforms that deduplicate sends (Discord nonce with enforce_nonce).
    idempotency_key: str = ""
    # Leading characters of `text` an earlier, interrupted attempt already posted: adapters send the rest.
    delivered_chars: int = 0
    # A file to send with the text (Telegram sendDocument, Discord attachment); never stored, never retried.
    document: OutgoingDocument | None = None

    @property
    def remaining_text(self) -> str:
        return self.text[self.delivered_chars :]


@dataclass(frozen=True)
class PlatformAction:
    """A moderation action an adapter carries out on the platform (automod, `/modlog undo`)."""

    kind: str  # "delete_message", "timeout_user", "lift_timeout"
    conversation: ConversationKey
    message_id: str = ""
    user_id: str = ""
    duration_s: int = 0
    reason: str = ""
