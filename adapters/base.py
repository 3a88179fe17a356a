"""The contract every platform adapter fulfils, and the errors adapters translate platform failures into.

An adapter only translates: platform events become `IncomingMessage`s handed to `app.inbox.receive`, and
while connected it lends the core a `bot.dispatch.transport.Transport` (`app.connect(transport)`) that the
dispatcher posts every reply through. It never stores, records or resends anything itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.dispatch.transport import Transport


class AdapterError(Exception):
    """A platform operation failed; `retryable` says whether trying again later may succeed."""

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class AdapterCapabilities:
    """What a platform can show, so output degrades to plain text where a feature is missing."""

    max_text_length: int
    can_edit: bool = False
    can_show_typing: bool = False
    supports_threads: bool = False


class Adapter(Protocol):
    """A running connection to one platform: translates its events into the inbox, lends a transport."""

    platform: str
    capabilities: AdapterCapabilities
    transport: Transport

    async def start(self) -> None:
        """Connect and begin receiving; returns once receiving has started."""

    async def stop_receiving(self) -> None:
        """Take no more events from the platform where it will send them again later (replies still go out)."""

    async def stop(self) -> None:
        """Let the app finish replies in flight (`[delivery] shutdown_grace_s`), then disconnect."""
