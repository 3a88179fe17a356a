"""Who administers a Telegram group, looked up with getChatAdministrators and remembered for a while."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from telegram import error as tg_error

log = logging.getLogger(__name__)

AdminLookup = Callable[[str], Awaitable[frozenset[str]]]
# After a failed look-up (bot not in the chat, network), try again after at most this long.
FAILED_LOOKUP_TTL_S = 60.0


class AdminCache:
    """Administrator ids per chat with expiry, so admin checks cost one API call per chat per `ttl_s`.

    A failed look-up counts as "no administrators" (admin commands are refused, never wrongly allowed)
    and is retried after a minute at most.
    """

    def __init__(self, lookup: AdminLookup, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._lookup = lookup
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, tuple[float, frozenset[str]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def is_admin(self, chat_id: str, user_id: str) -> bool:
        return user_id in await self.admins(chat_id)

    async def admins(self, chat_id: str) -> frozenset[str]:
        async with self._locks.setdefault(chat_id, asyncio.Lock()):
            cached = self._entries.get(chat_id)
            if cached is not None and cached[0] > self._clock():
                return cached[1]
            ttl = self._ttl_s
            try:
                found = await self._lookup(chat_id)
            except tg_error.TelegramError as exc:
                log.warning("cannot list the administrators of chat %s: %s", chat_id, type(exc).__name__)
                found, ttl = frozenset(), min(self._ttl_s, FAILED_LOOKUP_TTL_S)
            if ttl > 0:
                self._entries[chat_id] = (self._clock() + ttl, found)
            return found

    def forget(self, chat_id: str) -> None:
        self._entries.pop(chat_id, None)
