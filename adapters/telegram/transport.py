"""`TelegramTransport`: what the core's dispatcher needs from Telegram, through python-telegram-bot's `Bot`.

Telegram cannot deduplicate a repeated `sendMessage`, so `dedupes_sends` is False: the dispatcher records
"sending" before each call and decides after a crash whether to resend (`[delivery] redelivery`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import ChatPermissions, InputFile, ReplyParameters
from telegram import error as tg_error
from telegram.constants import ChatAction, MessageLimit
from telegram.ext import ExtBot

from adapters.telegram.convert import PLATFORM, chat_ref
from adapters.telegram.errors import to_delivery_error
from bot.delivery import DeliveryError
from bot.dispatch.transport import PostRequest, TransportCapabilities
from bot.messages import ConversationKey, PlatformAction

log = logging.getLogger(__name__)

# Telegram treats restrictions shorter than 30 s (or longer than 366 days) as forever.
MIN_RESTRICTION_S = 30


class TelegramTransport:
    """Posts, edits, deletes, shows typing and moderates on Telegram; errors become `DeliveryError`."""

    platform = PLATFORM

    def __init__(self, bot: Callable[[], ExtBot[Any]], token: str, typing_interval_s: float) -> None:
        self._bot = bot
        self._token = token
        self.capabilities = TransportCapabilities(
            max_text_length=MessageLimit.MAX_TEXT_LENGTH,
            can_edit=True,
            can_show_typing=True,
            typing_refresh_s=typing_interval_s,
            dedupes_sends=False,
        )

    async def post(self, request: PostRequest) -> str:
        """Send one chunk; every chunk of a reply replies to the same message. A group that became a
        supergroup (same chat, new id) is followed once."""
        chat: int | str = chat_ref(request.conversation.chat_id)
        thread_id = request.conversation.thread_id
        thread = int(thread_id) if thread_id.isdigit() else None
        reply = None
        if request.reply_to_message_id.isdigit():
            reply = ReplyParameters(int(request.reply_to_message_id), allow_sending_without_reply=True)
        if request.document is not None:  # a file with its caption (a data export; a chart is sent as a photo)
            upload = InputFile(request.document.data, filename=request.document.filename)
            caption = request.text[: MessageLimit.CAPTION_LENGTH] or None
            try:
                if request.document.mime_type.startswith("image/"):
                    sent = await self._bot().send_photo(
                        chat, upload, caption=caption, message_thread_id=thread, reply_parameters=reply
                    )
                else:
                    sent = await self._bot().send_document(
                        chat, upload, caption=caption, message_thread_id=thread, reply_parameters=reply
                    )
            except tg_error.TelegramError as exc:
                raise to_delivery_error(exc, self._token) from None
            return str(sent.message_id)
        try:
            try:
                sent = await self._bot().send_message(
                    chat, request.text, message_thread_id=thread, reply_parameters=reply
                )
            except tg_error.ChatMigrated as exc:
                sent = await self._bot().send_message(
                    exc.new_chat_id, request.text, message_thread_id=thread, reply_parameters=reply
                )
        except tg_error.TelegramError as exc:
            raise to_delivery_error(exc, self._token) from None
        return str(sent.message_id)

    async def edit(self, conversation: ConversationKey, message_id: str, text: str) -> None:
        try:
            await self._bot().edit_message_text(
                text, chat_id=chat_ref(conversation.chat_id), message_id=int(message_id)
            )
        except tg_error.BadRequest as exc:
            if "not modified" not in str(exc).lower():  # the text already was this one: fine
                raise to_delivery_error(exc, self._token) from None
        except tg_error.TelegramError as exc:
            raise to_delivery_error(exc, self._token) from None

    async def delete(self, conversation: ConversationKey, message_id: str) -> None:
        try:
            await self._bot().delete_message(chat_ref(conversation.chat_id), int(message_id))
        except tg_error.TelegramError as exc:
            raise to_delivery_error(exc, self._token) from None

    async def typing(self, conversation: ConversationKey) -> None:
        thread = conversation.thread_id
        try:
            await self._bot().send_chat_action(
                chat_ref(conversation.chat_id),
                ChatAction.TYPING,
                message_thread_id=int(thread) if thread.isdigit() else None,
                rate_limit_args=0,
            )
        except (tg_error.TelegramError, DeliveryError) as exc:
            log.debug("typing action failed: %s", type(exc).__name__)

    async def perform(self, action: PlatformAction) -> None:
        """Delete a message, or restrict a member for a while, or lift that restriction."""
        chat = chat_ref(action.conversation.chat_id)
        bot = self._bot()
        try:
            if action.kind == "delete_message":
                await bot.delete_message(chat, int(action.message_id))
            elif action.kind == "timeout_user":
                until = datetime.now(UTC) + timedelta(seconds=max(action.duration_s, MIN_RESTRICTION_S))
                await bot.restrict_chat_member(
                    chat, int(action.user_id), ChatPermissions.no_permissions(), until_date=until
                )
            elif action.kind == "lift_timeout":
                await bot.restrict_chat_member(chat, int(action.user_id), ChatPermissions.all_permissions())
            else:
                raise DeliveryError(f"Telegram cannot carry out '{action.kind}'", retryable=False)
        except tg_error.TelegramError as exc:
            raise to_delivery_error(exc, self._token) from None
        except ValueError:
            raise DeliveryError(f"'{action.kind}' needs numeric Telegram ids", retryable=False) from None
