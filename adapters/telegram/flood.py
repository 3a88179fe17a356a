"""Flood control for Bot API calls: Telegram's message limits, 429 waits and network retries in one place.

PTB's `AIORateLimiter` throttles every call that names a chat (typing actions and admin look-ups eat a
group's 20-a-minute budget) and has no per-chat limit for private chats, so the bot uses this one.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram import error as tg_error
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

Clock = Callable[[], float]
JSONResult = bool | dict[str, Any] | list[dict[str, Any]]


@dataclass(frozen=True)
class FloodLimits:
    """Telegram's published limits (defaults) and how hard to retry; tests relax them to stay fast."""

    messages_per_s: float = 30.0
    chat_interval_s: float = 1.0
    group_messages_per_min: int = 20
    max_retries: int = 5
    network_retries: int = 3
    network_backoff_s: float = 1.0


class RateWindow:
    """At most `max_events` in any `period_s` seconds (a sliding window); waiters are served in order."""

    def __init__(self, max_events: int, period_s: float, clock: Clock = time.monotonic) -> None:
        self.max_events = max_events
        self.period_s = period_s
        self._clock = clock
        self._stamps: deque[float] = deque()
        self._lock = asyncio.Lock()

    @classmethod
    def per_second(cls, rate: float) -> RateWindow:
        """A window allowing `rate` events a second (rates below 1 become one event per 1/rate seconds)."""
        if rate <= 0:
            return cls(0, 0)
        return cls(int(rate), 1.0) if rate >= 1 else cls(1, 1 / rate)

    @property
    def enabled(self) -> bool:
        return self.max_events > 0 and self.period_s > 0

    def idle(self) -> bool:
        """True when nothing was let through within the last period (the window can be forgotten)."""
        return not self._stamps or self._stamps[-1] <= self._clock() - self.period_s

    async def acquire(self) -> None:
        """Wait until one more event fits in the window, and count it."""
        if not self.enabled:
            return
        async with self._lock:
            while True:
                now = self._clock()
                while self._stamps and self._stamps[0] <= now - self.period_s:
                    self._stamps.popleft()
                if len(self._stamps) < self.max_events:
                    self._stamps.append(now)
                    return
                await asyncio.sleep(self._stamps[0] + self.period_s - now)


def is_message_endpoint(endpoint: str) -> bool:
    """Calls that post a message into a chat (the ones Telegram's flood limits count)."""
    return (endpoint.startswith("send") and endpoint != "sendChatAction") or endpoint in (
        "forwardMessage",
        "copyMessage",
        "forwardMessages",
        "copyMessages",
    )


def retry_after_seconds(exc: tg_error.RetryAfter) -> float:
    """Seconds Telegram asked to wait, whichever of int or timedelta this PTB version hands out."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class FloodControl(BaseRateLimiter[int]):
    """Paces message sends (overall, per chat, per group), waits out 429s and retries network failures.

    A 429 pauses every call for the `retry_after` Telegram names, then the call is repeated, up to
    `max_retries` times. Network errors and 5xx answers are retried with doubling back-off. Bad Request,
    Forbidden and the like are raised at once: repeating them cannot help. `rate_limit_args` overrides
    the number of retries of both kinds for one call (0: try once, e.g. for typing actions).
    """

    def __init__(self, limits: FloodLimits, clock: Clock = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._overall = RateWindow.per_second(limits.messages_per_s)
        self._chats: dict[str, RateWindow] = {}
        self._groups: dict[str, RateWindow] = {}
        self._paused_until = 0.0

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSONResult:
        flood_retries = self.limits.max_retries if rate_limit_args is None else rate_limit_args
        network_retries = self.limits.network_retries if rate_limit_args is None else rate_limit_args
        chat_id = data.get("chat_id")
        paced = is_message_endpoint(endpoint) and chat_id is not None
        flood_attempt = network_attempt = 0
        while True:
            if paced:
                await self._pace(str(chat_id))
            await self._wait_out_pause()
            try:
                return await callback(*args, **kwargs)
            except tg_error.RetryAfter as exc:
                if flood_attempt >= flood_retries:
                    raise
                flood_attempt += 1
                wait = retry_after_seconds(exc)
                log.warning(
                    "Telegram flood control on %s: waiting %.1f s (retry %d of %d)",
                    endpoint,
                    wait,
                    flood_attempt,
                    flood_retries,
                )
                self._paused_until = max(self._paused_until, self._clock() + wait)
            except tg_error.BadRequest:  # a NetworkError subclass, but repeating it cannot help
                raise
            except tg_error.TimedOut as exc:
                # A send that timed out may have been delivered: it stays owed instead of posting twice.
                if is_message_endpoint(endpoint):
                    raise
                network_attempt = await self._back_off(endpoint, exc, network_attempt, network_retries)
            except tg_error.NetworkError as exc:
                network_attempt = await self._back_off(endpoint, exc, network_attempt, network_retries)

    async def _back_off(self, endpoint: str, exc: Exception, attempt: int, retries: int) -> int:
        if attempt >= retries:
            raise exc
        delay = self.limits.network_backoff_s * (2**attempt)
        log.warning("Telegram %s failed (%s): retrying in %.1f s", endpoint, type(exc).__name__, delay)
        await asyncio.sleep(delay)
        return attempt + 1

    async def _wait_out_pause(self) -> None:
        while (remaining := self._paused_until - self._clock()) > 0:
            await asyncio.sleep(remaining)

    async def _pace(self, chat_id: str) -> None:
        await self._window(self._chats, chat_id, 1, self.limits.chat_interval_s).acquire()
        if chat_id.startswith(("-", "@")):
            await self._window(self._groups, chat_id, self.limits.group_messages_per_min, 60.0).acquire()
        await self._overall.acquire()

    def _window(self, windows: dict[str, RateWindow], chat_id: str, max_events: int, period_s: float) -> RateWindow:
        if len(windows) > 1024:
            for key in [key for key, window in windows.items() if window.idle() and key != chat_id]:
                del windows[key]
        window = windows.get(chat_id)
        if window is None:
            window = windows[chat_id] = RateWindow(max_events, period_s, self._clock)
        return window
