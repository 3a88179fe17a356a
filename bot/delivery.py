"""What the core needs from a connected platform to post on its own (scheduled posts, staff notices,
automod), without importing any adapter: adapters register themselves as `Sender`s on the app."""

from __future__ import annotations

from typing import Protocol

from bot.messages import OutgoingMessage, PlatformAction


class DeliveryError(Exception):
    """A send or action failed; `retryable` is False when trying again cannot help (chat gone, forbidden)."""

    def __init__(self, message: str, retryable: bool = True, delivered_chars: int = 0) -> None:
        super().__init__(message)
        self.retryable = retryable
        # How far into the message's text the platform got before the failure (whole chunks posted), so
        # a retry sends only the rest and never posts a chunk twice.
        self.delivered_chars = delivered_chars

    def after(self, delivered_chars: int) -> DeliveryError:
        """This error, noting that the first `delivered_chars` characters were posted."""
        self.delivered_chars = max(self.delivered_chars, delivered_chars)
        return self


class PlatformNotConnected(DeliveryError):
    """The message's platform has no connection now: not a failed attempt, the message simply waits."""

    def __init__(self, platform: str) -> None:
        super().__init__(f"{platform} is not connected", retryable=True)
        self.platform = platform


class Sender(Protocol):
    """A platform connection the core may post through."""

    platform: str

    async def send(self, message: OutgoingMessage) -> list[str]:
        """Deliver the message (chunked as the platform needs); returns the platform message ids."""

    async def perform(self, action: PlatformAction) -> None:
        """Carry out a moderation action; raises DeliveryError when the platform refuses."""
