"""An in-process platform for the scheduling tests: records what was posted, can fail or "crash"."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.delivery import DeliveryError
from bot.messages import OutgoingMessage, PlatformAction


class SimulatedCrash(BaseException):
    """The process dies here: nothing after this line of the bot runs (not even `except Exception`)."""


@dataclass
class FakePlatform:
    """A Sender that keeps posts in memory; with `dedupe_by_key` it behaves like Discord's enforce_nonce."""

    platform: str
    dedupe_by_key: bool = False
    posts: list[OutgoingMessage] = field(default_factory=list)
    failures: list[DeliveryError] = field(default_factory=list)
    crash_after_delivery: bool = False
    crash_before_delivery: bool = False
    _ids_by_key: dict[str, list[str]] = field(default_factory=dict)

    async def send(self, message: OutgoingMessage) -> list[str]:
        if self.crash_before_delivery:
            raise SimulatedCrash("died before the platform saw the post")
        if self.failures:
            raise self.failures.pop(0)
        if self.dedupe_by_key and message.idempotency_key in self._ids_by_key:
            return self._ids_by_key[message.idempotency_key]
        self.posts.append(message)
        ids = [f"{self.platform}-{len(self.posts)}"]
        if message.idempotency_key:
            self._ids_by_key[message.idempotency_key] = ids
        if self.crash_after_delivery:
            raise SimulatedCrash("died after the platform accepted the post")
        return ids

    async def perform(self, action: PlatformAction) -> None:
        return None

    @property
    def posted(self) -> list[str]:
        """Texts of scheduled posts (kind "post") that reached this platform."""
        return [post.text for post in self.posts if post.kind == "post"]

    @property
    def staff_notices(self) -> list[str]:
        return [post.text for post in self.posts if post.kind == "staff"]
