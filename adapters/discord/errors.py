"""The Discord adapter's errors, and the translation of discord.py failures into socialbot's `DeliveryError`."""

from __future__ import annotations

import asyncio

import aiohttp
import discord

from adapters.base import AdapterError
from bot.delivery import DeliveryError


class DiscordAdapterError(AdapterError):
    """The Discord connection could not be set up or kept (no token, token rejected, intents not enabled)."""


def delivery_error(exc: BaseException, what: str) -> DeliveryError:
    """A `DeliveryError` for a failed Discord call: retryable unless Discord said the target is forbidden or gone.

    discord.py has already waited out 429s and retried 5xx answers by the time an exception reaches here.
    """
    if isinstance(exc, discord.Forbidden):
        return DeliveryError(f"{what}: the bot lacks permission there (Discord code {exc.code})", retryable=False)
    if isinstance(exc, discord.NotFound):
        return DeliveryError(f"{what}: the channel, message or member no longer exists", retryable=False)
    if isinstance(exc, discord.RateLimited):
        return DeliveryError(f"{what}: rate limited for {exc.retry_after:.0f}s", retryable=True)
    if isinstance(exc, discord.HTTPException):
        retryable = exc.status >= 500 or exc.status == 429
        return DeliveryError(f"{what}: Discord answered {exc.status} ({exc.code}): {exc.text[:200]}", retryable)
    if isinstance(exc, (aiohttp.ClientError, OSError, asyncio.TimeoutError)):
        return DeliveryError(f"{what}: network error talking to Discord ({type(exc).__name__})", retryable=True)
    return DeliveryError(f"{what}: {type(exc).__name__}", retryable=False)
