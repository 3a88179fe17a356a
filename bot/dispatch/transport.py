"""The narrow contract one platform fulfils for the core: post, edit, delete, show typing, act.

Everything else about delivery (chunking, recording, resending, progress, cross-platform notices) is the
dispatcher's, written once; a transport only talks to its platform and translates its errors into
`bot.delivery.DeliveryError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.messages import ConversationKey, OutgoingDocument, PlatformAction


@dataclass(frozen=True)
class TransportCapabilities:
    """What a platform can do, so the dispatcher chunks, edits and retries the right way for it."""

    max_text_length: int
    can_edit: bool = False
    can_show_typing: bool = False
    # How long the platform keeps a "typing…" indicator up; the dispatcher refreshes it before that.
    typing_refresh_s: float = 5.0
    # True when a repeated post with the same `dedupe_key` is dropped by the platform (Discord's nonce
    # with enforce_nonce): an interrupted send can then simply be repeated.
    dedupes_sends: bool = False


@dataclass(frozen=True)
class PostRequest:
    """One chunk to post: where, what, what it answers, and where it starts in the whole message."""

    conversation: ConversationKey
    text: str
    reply_to_message_id: str = ""
    # Offset of this chunk in the whole message's text (0: the first chunk).
    chunk_start: int = 0
    # Same value for every attempt at this chunk; empty when the message has no stable identity.
    dedupe_key: str = ""
    # A file sent with the first chunk (a member's data export); the chunk's text is its caption.
    document: OutgoingDocument | None = None


class Transport(Protocol):
    """One connected platform, as the dispatcher sees it."""

    platform: str
    capabilities: TransportCapabilities

    async def post(self, request: PostRequest) -> str:
        """Post one chunk (already within `max_text_length`); returns the platform's message id."""

    async def edit(self, conversation: ConversationKey, message_id: str, text: str) -> None:
        """Replace the text of a message the bot posted."""

    async def delete(self, conversation: ConversationKey, message_id: str) -> None:
        """Delete a message the bot posted."""

    async def typing(self, conversation: ConversationKey) -> None:
        """Show "typing…" in the conversation once (best effort: never raises)."""

    async def perform(self, action: PlatformAction) -> None:
        """Carry out a moderation action; raises `DeliveryError` when the platform refuses."""


class ReplySurface(Protocol):
    """Where the answer to one particular event goes instead of a plain post (a slash command's
    follow-up). It lives only as long as the event: after a restart the answer is a plain post."""

    async def post(self, text: str) -> str:
        """Post one chunk of the answer; returns its platform id."""

    async def finish(self, answered: bool) -> None:
        """The turn is over; `answered` is False when nothing was posted through the surface."""
