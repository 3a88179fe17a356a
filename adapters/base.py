"""The contract every platform adapter fulfils, and the errors adapters translate platform failures into."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.messages import OutgoingMessage


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
    """A running connection to one platform: receives events, hands them to the manager, sends replies."""

    platform: str
    capabilities: AdapterCapabilities

    async def start(self) -> None:
        """Connect and begin receiving; returns once receiving has started."""

    async def stop(self) -> None:
        """Finish in-flight replies (or leave them stored as unsent) and disconnect."""

    async def send(self, message: OutgoingMessage) -> list[str]:
        """Deliver one message (split into chunks as the platform needs); returns the platform ids."""
