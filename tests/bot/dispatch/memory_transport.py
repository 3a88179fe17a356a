"""An in-memory platform for the dispatcher's tests: a `Transport` that keeps what it was asked to do."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.delivery import DeliveryError
from bot.dispatch.transport import PostRequest, TransportCapabilities
from bot.messages import ConversationKey, PlatformAction


@dataclass
class MemoryTransport:
    """Posts into a list; `fail_next` and `before_post` let a test break or watch a send."""

    platform: str = "memory"
    capabilities: TransportCapabilities = field(
        default_factory=lambda: TransportCapabilities(max_text_length=50, can_edit=True, can_show_typing=True)
    )
    posted: list[PostRequest] = field(default_factory=list)
    edits: list[tuple[str, str]] = field(default_factory=list)
    typing_shown: int = 0
    actions: list[PlatformAction] = field(default_factory=list)
    fail_next: int = 0
    before_post: Callable[[PostRequest], Awaitable[None]] | None = None
    _dedupe: dict[str, str] = field(default_factory=dict)

    async def post(self, request: PostRequest) -> str:
        if self.before_post is not None:
            await self.before_post(request)
        if self.fail_next:
            self.fail_next -= 1
            raise DeliveryError("memory: down for a moment")
        if request.dedupe_key and request.dedupe_key in self._dedupe:
            return self._dedupe[request.dedupe_key]
        self.posted.append(request)
        platform_id = f"m{len(self.posted)}"
        if request.dedupe_key:
            self._dedupe[request.dedupe_key] = platform_id
        return platform_id

    async def edit(self, conversation: ConversationKey, message_id: str, text: str) -> None:
        self.edits.append((message_id, text))

    async def delete(self, conversation: ConversationKey, message_id: str) -> None:
        return None

    async def typing(self, conversation: ConversationKey) -> None:
        self.typing_shown += 1
        await asyncio.sleep(0)

    async def perform(self, action: PlatformAction) -> None:
        self.actions.append(action)

    def texts(self) -> list[str]:
        return [request.text for request in self.posted]
