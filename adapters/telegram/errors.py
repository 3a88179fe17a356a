"""The Telegram adapter's errors, and the translation of python-telegram-bot's errors into the core's."""

from __future__ import annotations

from telegram import error as tg_error

from adapters.base import AdapterError
from bot.delivery import DeliveryError


class TelegramAdapterError(AdapterError):
    """Base of every error the Telegram adapter raises itself (missing token, bad settings, bad update)."""


class MalformedUpdate(TelegramAdapterError):
    """An update that cannot be read as a Telegram update; it is logged with its id and skipped."""

    def __init__(self, update_id: object, reason: str) -> None:
        super().__init__(f"update {update_id}: {reason}", retryable=False)
        self.update_id = update_id


def redact(text: str, token: str) -> str:
    """`text` with the bot token replaced, for anything that may reach a log or an error message."""
    return text.replace(token, "<token>") if token else text


def to_delivery_error(exc: tg_error.TelegramError, token: str = "") -> DeliveryError:
    """The core's `DeliveryError` for a failed Bot API call; `retryable` is False when trying again cannot help.

    Forbidden (blocked, kicked), a rejected token and Bad Request (chat not found, message gone, bad
    parameters) fail the same way next time; flood control and network trouble may pass.
    """
    message = redact(f"Telegram: {exc.message}", token)
    retryable = not isinstance(exc, tg_error.Forbidden | tg_error.InvalidToken | tg_error.BadRequest)
    return DeliveryError(message, retryable=retryable)
