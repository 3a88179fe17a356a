"""`TelegramAdapter`: the bot on Telegram, through python-telegram-bot's `Bot`, with its own update loop.

PTB's `Updater` confirms updates (the next getUpdates offset) as soon as it has fetched them, before they
are handled, so a crash loses them. This adapter builds the `Application` without an updater and polls
itself: the offset it confirms, and persists, never passes an update that is not finished. Updates run
concurrently across conversations and in order within one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from telegram import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    ChatPermissions,
    InputFile,
    ReplyParameters,
    Update,
)
from telegram import error as tg_error
from telegram.constants import ChatAction, MessageLimit
from telegram.ext import Application, ApplicationBuilder, ExtBot
from telegram.request import HTTPXRequest

from adapters.base import AdapterCapabilities
from adapters.telegram.admins import AdminCache
from adapters.telegram.convert import (
    ALLOWED_UPDATES,
    PLATFORM,
    chat_ref,
    conversation_key,
    parse_update,
    to_incoming,
    update_message,
)
from adapters.telegram.errors import MalformedUpdate, TelegramAdapterError, redact, to_delivery_error
from adapters.telegram.flood import FloodControl, FloodLimits, retry_after_seconds
from adapters.telegram.offsets import UpdateTracker
from adapters.telegram.webhook import UpdateNotHandled, WebhookServer, webhook_secret
from bot.app import BotApp
from bot.delivery import DeliveryError
from bot.messages import IncomingMessage, OutgoingMessage, PlatformAction
from bot.text_split import chunk_spans

log = logging.getLogger(__name__)

OFFSET_STATE_KEY = "telegram:last_handled_update_id"
COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
# Telegram treats restrictions shorter than 30 s (or longer than 366 days) as forever.
MIN_RESTRICTION_S = 30
# Loggers whose records can contain the bot token (request URLs, PTB's "Set Bot API URL").
TOKEN_LOGGERS = ("httpx", "telegram.Bot", "telegram.ext.ExtBot")
# Extra read time on top of the long-poll timeout before a silent connection counts as dropped.
POLL_READ_MARGIN_S = 10.0


class TelegramAdapter:
    """Connects one bot token to the conversation manager: receives updates, delivers replies, moderates.

    It is also the core's `Sender` for Telegram (registered on `app.senders` while running), so features
    can post to any chat or channel and carry out moderation actions without knowing Telegram.
    """

    platform = PLATFORM
    capabilities = AdapterCapabilities(
        max_text_length=MessageLimit.MAX_TEXT_LENGTH, can_edit=True, can_show_typing=True, supports_threads=True
    )

    def __init__(self, app: BotApp, token: str) -> None:
        self.app = app
        self.settings = app.config.settings.telegram
        self._token = token
        self._application: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._updates_request: HTTPXRequest | None = None
        self._webhook: WebhookServer | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._owed_task: asyncio.Task[None] | None = None
        self._tracker: UpdateTracker | None = None
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._chains: dict[str, asyncio.Task[None]] = {}
        self._progress = asyncio.Event()
        self._admins = AdminCache(self._lookup_admins, self.settings.admin_cache_s)
        self._log_filter = _RedactToken(token)
        self.bot_username = ""
        self.bot_id = 0

    # lifecycle ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the token (getMe), register commands, then receive updates (polling or webhook).

        Raises `TelegramAdapterError` (token redacted) when Telegram cannot be reached or refuses the bot.
        """
        self._stopping = False
        for name in TOKEN_LOGGERS:
            logging.getLogger(name).addFilter(self._log_filter)
        self._application = self._build_application()
        try:
            await self._connect()
        except tg_error.TelegramError as exc:
            await self.stop()
            raise TelegramAdapterError(
                redact(f"cannot connect to Telegram: {exc.message}", self._token),
                retryable=not isinstance(exc, tg_error.InvalidToken),
            ) from None
        except OSError as exc:
            await self.stop()
            where = f"{self.settings.webhook_listen}:{self.settings.webhook_port}"
            raise TelegramAdapterError(f"telegram webhook: cannot listen on {where}: {exc.strerror}") from None
        log.info("Telegram: connected as @%s (%s mode)", self.bot_username, self.settings.mode)

    async def _connect(self) -> None:
        assert self._application is not None
        await self._application.initialize()
        me = self.bot.bot
        self.bot_username, self.bot_id = me.username or "", me.id
        self.app.manager.bot_username = self.bot_username
        await self._register_commands()
        if self.settings.mode == "webhook":
            await self._start_webhook()
        else:
            await self.bot.delete_webhook(drop_pending_updates=False)
            self._updates_request = HTTPXRequest(connection_pool_size=1)
            await self._updates_request.initialize()
            persisted = self.app.store.get_state(OFFSET_STATE_KEY)
            self._tracker = UpdateTracker(int(persisted) if persisted else None)
            self._poll_task = asyncio.create_task(self._poll_forever(), name="telegram-polling")
        self.app.register_sender(self)

    async def stop(self) -> None:
        """Stop receiving, let in-flight replies finish for `shutdown_grace_s`, then cancel the rest.

        A cancelled update is not confirmed: it is fetched again on the next start, and the manager
        answers its stored message then (replies it stored but did not send are re-sent on start).
        """
        self._stopping = True
        for task in (self._poll_task, self._owed_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._poll_task = self._owed_task = None
        if self._webhook is not None:
            self._webhook.stop_accepting()
        pending = list(self._in_flight.values())
        if pending:
            _, late = await asyncio.wait(pending, timeout=self.settings.shutdown_grace_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            if late:
                log.warning("Telegram: %d updates left unfinished; they are handled on the next start", len(late))
        if self._webhook is not None:
            await self._webhook.stop()
            self._webhook = None
        if self.app.senders.get(self.platform) is self:
            del self.app.senders[self.platform]
        await self._release()

    async def __aenter__(self) -> TelegramAdapter:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def bot(self) -> ExtBot[Any]:
        if self._application is None:
            raise DeliveryError("the Telegram adapter is not running", retryable=True)
        bot: ExtBot[Any] = self._application.bot
        return bot

    @property
    def webhook_port(self) -> int:
        """The port the webhook server listens on (useful when configured as 0)."""
        return self._webhook.bound_port if self._webhook is not None else self.settings.webhook_port

    # Sender -------------------------------------------------------------------------------------------

    async def send(self, message: OutgoingMessage) -> list[str]:
        """Post `message` as plain text, split at 4,096 characters, each part replying to the same message."""
        chat = chat_ref(message.conversation.chat_id)
        thread = int(message.conversation.thread_id) if message.conversation.thread_id.isdigit() else None
        reply = None
        if message.reply_to_message_id.isdigit():
            reply = ReplyParameters(int(message.reply_to_message_id), allow_sending_without_reply=True)
        if message.document is not None:  # a file with its caption (a member's data export)
            upload = InputFile(message.document.data, filename=message.document.filename)
            caption = message.text[: MessageLimit.CAPTION_LENGTH] or None
            try:
                sent = await self.bot.send_document(
                    chat, upload, caption=caption, message_thread_id=thread, reply_parameters=reply
                )
            except tg_error.TelegramError as exc:
                raise to_delivery_error(exc, self._token) from None
            return [str(sent.message_id)]
        sent_ids: list[str] = []
        delivered = message.delivered_chars
        for chunk, _, end in chunk_spans(message.text, MessageLimit.MAX_TEXT_LENGTH, delivered):
            try:
                sent = await self.bot.send_message(chat, chunk, message_thread_id=thread, reply_parameters=reply)
            except tg_error.ChatMigrated as exc:  # a group became a supergroup: same chat, new id
                chat = exc.new_chat_id
                try:
                    sent = await self.bot.send_message(chat, chunk, message_thread_id=thread, reply_parameters=reply)
                except tg_error.TelegramError as retry_exc:
                    raise to_delivery_error(retry_exc, self._token).after(delivered) from None
            except tg_error.TelegramError as exc:
                raise to_delivery_error(exc, self._token).after(delivered) from None
            sent_ids.append(str(sent.message_id))
            delivered = end
        return sent_ids

    async def perform(self, action: PlatformAction) -> None:
        """Delete a message, or restrict a member for a while, or lift that restriction."""
        chat = chat_ref(action.conversation.chat_id)
        try:
            if action.kind == "delete_message":
                await self.bot.delete_message(chat, int(action.message_id))
            elif action.kind == "timeout_user":
                until = datetime.now(UTC) + timedelta(seconds=max(action.duration_s, MIN_RESTRICTION_S))
                await self.bot.restrict_chat_member(
                    chat, int(action.user_id), ChatPermissions.no_permissions(), until_date=until
                )
            elif action.kind == "lift_timeout":
                await self.bot.restrict_chat_member(chat, int(action.user_id), ChatPermissions.all_permissions())
            else:
                raise DeliveryError(f"Telegram cannot carry out '{action.kind}'", retryable=False)
        except tg_error.TelegramError as exc:
            raise to_delivery_error(exc, self._token) from None
        except ValueError:
            raise DeliveryError(f"'{action.kind}' needs numeric Telegram ids", retryable=False) from None

    # receiving ----------------------------------------------------------------------------------------

    async def receive(self, raw: object) -> None:
        """Handle one update from a webhook; returns once it is handled (or known to be handled).

        Raises `UpdateNotHandled` when shutdown interrupted it, so Telegram delivers it again.
        """
        update_id = raw.get("update_id") if isinstance(raw, dict) else None
        task = self._in_flight.get(update_id) if isinstance(update_id, int) else None
        if task is None:
            if isinstance(update_id, int) and self._was_handled(update_id):
                return
            task = self._dispatch(raw)
        if task is not None:
            # Waited on, not awaited: a webhook request that goes away must not cancel the handling.
            await asyncio.wait([task])
            if task.cancelled():
                raise UpdateNotHandled(f"update {update_id} was interrupted")

    async def _poll_forever(self) -> None:
        await self._deliver_owed()
        assert self._tracker is not None
        tracker, failures = self._tracker, 0
        while not self._stopping:
            if tracker.in_flight >= self.settings.max_inflight_updates:
                await self._wait_for_progress()
                continue
            try:
                batch = await self._fetch_updates(tracker.next_offset, 0 if tracker.in_flight else None)
                failures = 0
            except tg_error.InvalidToken:
                log.error("Telegram rejected the bot token; polling stopped (check TELEGRAM_BOT_TOKEN)")
                return
            except Exception as exc:  # the loop must outlive any failure: back off and poll again
                failures += 1
                delay = min(60.0, self.settings.network_backoff_s * 2 ** min(failures, 6))
                if isinstance(exc, tg_error.RetryAfter):
                    delay = max(delay, retry_after_seconds(exc))
                reason = redact(f"{type(exc).__name__}: {exc}", self._token)
                log.warning("Telegram getUpdates failed (%s); retrying in %.1f s", reason, delay)
                await asyncio.sleep(delay)
                continue
            fresh = 0
            for raw in batch:
                update_id = raw.get("update_id") if isinstance(raw, dict) else None
                if not isinstance(update_id, int):
                    log.warning("Telegram sent an update without an id; skipped")
                    continue
                if tracker.is_known(update_id) or tracker.in_flight >= self.settings.max_inflight_updates:
                    continue
                fresh += 1
                tracker.begin(update_id)
                self._dispatch(raw)
            if not fresh and tracker.in_flight:
                await self._wait_for_progress()

    async def _fetch_updates(self, offset: int | None, timeout: int | None) -> list[Any]:
        """The raw JSON of pending updates from `offset` on, waiting up to `timeout` (the long poll).

        Raw, because PTB's `get_updates` parses the whole batch at once: one update it cannot read
        would fail every poll and stall the bot. Each update is parsed on its own instead.
        """
        assert self._updates_request is not None
        wait = self.settings.poll_timeout_s if timeout is None else timeout
        params: dict[str, Any] = {"timeout": wait, "limit": 100, "allowed_updates": json.dumps(ALLOWED_UPDATES)}
        if offset is not None:
            params["offset"] = offset
        result = await self._updates_request.post(
            f"{self.bot.base_url}/getUpdates?{urlencode(params)}", read_timeout=wait + POLL_READ_MARGIN_S
        )
        if not isinstance(result, list):
            raise ValueError("getUpdates did not return a list")
        return result

    async def _wait_for_progress(self) -> None:
        """Until an update finishes or `busy_poll_interval_s` passes (new messages may have arrived)."""
        self._progress.clear()
        await _wait_event(self._progress, self.settings.busy_poll_interval_s)

    def _dispatch(self, raw: object) -> asyncio.Task[None] | None:
        """Start handling one raw update after the previous update of its conversation."""
        try:
            update = parse_update(raw)
        except MalformedUpdate as exc:
            log.warning("Telegram update skipped: %s", exc)
            if isinstance(exc.update_id, int) and not isinstance(exc.update_id, bool):
                self._mark_handled(exc.update_id)
            return None
        found = update_message(update)
        order_key = conversation_key(found[0]).session_id if found else f"update:{update.update_id}"
        previous = self._chains.get(order_key)
        task = asyncio.create_task(self._handle_in_order(previous, update), name=f"telegram-{update.update_id}")
        self._chains[order_key] = task
        self._in_flight[update.update_id] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._chains.get(order_key) is done:
                del self._chains[order_key]
            if self._in_flight.get(update.update_id) is done:
                del self._in_flight[update.update_id]

        task.add_done_callback(forget)
        return task

    async def _handle_in_order(self, previous: asyncio.Task[None] | None, update: Update) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        try:
            if not self._was_handled(update.update_id):
                await self._handle_update(update)
        except MalformedUpdate as exc:
            log.warning("Telegram update skipped: %s", exc)
        except Exception:
            log.exception("Telegram update %s could not be handled; skipped", update.update_id)
        self._mark_handled(update.update_id)

    async def _handle_update(self, update: Update) -> None:
        incoming = to_incoming(update, self.bot_username, self.bot_id)
        if incoming is None:
            return
        incoming = await self._with_admin_flag(incoming)
        typing = None
        progress = None
        replied = asyncio.Event()
        if not incoming.author.is_bot and not incoming.is_edit and self.app.manager.addressing(incoming):
            typing = asyncio.create_task(self._keep_typing(incoming, replied))
            if self.settings.show_progress:
                progress = ProgressMessage(self.bot, incoming)
        try:
            replies = await self.app.manager.handle(incoming, progress=progress.show if progress else None)
            for outgoing in replies:
                same_chat = outgoing.conversation == incoming.conversation
                if progress is not None and same_chat and await progress.finish(outgoing):
                    self.app.manager.record_delivery(outgoing, progress.message_id)
                    continue
                await self._deliver(outgoing)
        finally:
            replied.set()
            if typing is not None:
                await asyncio.wait([typing])

    def _mark_handled(self, update_id: int) -> None:
        self.app.store.claim_event(PLATFORM, f"update:{update_id}")
        if self._tracker is not None and self._tracker.finish(update_id):
            self.app.store.set_state(OFFSET_STATE_KEY, str(self._tracker.handled_up_to))
        self._progress.set()

    def _was_handled(self, update_id: int) -> bool:
        return self.app.store.event_claimed(PLATFORM, f"update:{update_id}")

    async def _with_admin_flag(self, incoming: IncomingMessage) -> IncomingMessage:
        """Set `author_is_admin`: a configured admin id anywhere, or an administrator of the group."""
        if incoming.author_is_admin:
            return incoming
        if f"{PLATFORM}:{incoming.author.user_id}" in self.app.config.settings.bot.admin_user_ids:
            return replace(incoming, author_is_admin=True)
        in_group = incoming.conversation.chat_id.startswith("-") and not incoming.author.user_id.startswith("chat")
        if in_group and await self._admins.is_admin(incoming.conversation.chat_id, incoming.author.user_id):
            return replace(incoming, author_is_admin=True)
        return incoming

    async def _lookup_admins(self, chat_id: str) -> frozenset[str]:
        members = await self.bot.get_chat_administrators(chat_ref(chat_id))
        return frozenset(str(member.user.id) for member in members)

    async def _keep_typing(self, incoming: IncomingMessage, replied: asyncio.Event) -> None:
        """Show "typing…" until `replied` is set; Telegram clears it after 5 s, so it is refreshed.

        Stopped by the event rather than cancelled, so a request already on its way is not cut off.
        """
        chat = chat_ref(incoming.conversation.chat_id)
        thread = int(incoming.conversation.thread_id) if incoming.conversation.thread_id else None
        while not replied.is_set():
            try:
                await self.bot.send_chat_action(chat, ChatAction.TYPING, message_thread_id=thread, rate_limit_args=0)
            except tg_error.TelegramError as exc:
                log.debug("typing action failed: %s", type(exc).__name__)
            await _wait_event(replied, self.settings.typing_interval_s)

    # delivery -----------------------------------------------------------------------------------------

    async def _deliver(self, outgoing: OutgoingMessage) -> None:
        """Send one reply (or a side message to another platform) and record the outcome in the store."""
        manager = self.app.manager
        sender = self.app.senders.get(outgoing.conversation.platform)
        if sender is None:
            manager.record_delivery_failure(outgoing, f"{outgoing.conversation.platform} is not connected")
            log.warning("no %s connection for a message; kept as owed", outgoing.conversation.platform)
            return
        try:
            sent_ids = await sender.send(outgoing)
        except DeliveryError as exc:
            manager.record_delivery_failure(outgoing, str(exc), exc.delivered_chars)
            log.warning(
                "delivery failed (%s): %s",
                "will retry on start" if exc.retryable else "gave up",
                exc,
                extra={"session": outgoing.conversation.session_id},
            )
            return
        manager.record_delivery(outgoing, sent_ids[0] if sent_ids else "")

    async def _deliver_owed(self) -> None:
        """Send the replies a previous run stored but never confirmed sent, oldest first."""
        owed = self.app.manager.undelivered(PLATFORM)
        if owed:
            log.info("Telegram: sending %d replies owed from before", len(owed))
        for outgoing in owed:
            await self._deliver(outgoing)

    # setup --------------------------------------------------------------------------------------------

    def _build_application(self) -> Application[Any, Any, Any, Any, Any, Any]:
        settings = self.settings
        limits = FloodLimits(
            messages_per_s=settings.flood_messages_per_s,
            chat_interval_s=settings.flood_chat_interval_s,
            group_messages_per_min=settings.flood_group_messages_per_min,
            max_retries=settings.flood_max_retries,
            network_retries=settings.network_retries,
            network_backoff_s=settings.network_backoff_s,
        )
        builder = (
            ApplicationBuilder()
            .token(self._token)
            .base_url(settings.base_url)
            .base_file_url(settings.base_file_url)
            .updater(None)
            .job_queue(None)
            .rate_limiter(FloodControl(limits))
        )
        application: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        return application

    async def _register_commands(self) -> None:
        """Publish the command menu: everyone's commands, plus admin-only ones for chat administrators."""
        commands = [command for command in self.app.commands.all() if COMMAND_NAME.match(command.name)]
        public = [BotCommand(c.name, c.description[:256] or c.name) for c in commands if not c.admin_only]
        everything = [BotCommand(c.name, c.description[:256] or c.name) for c in commands]
        try:
            await self.bot.set_my_commands(public)
            await self.bot.set_my_commands(everything, scope=BotCommandScopeAllChatAdministrators())
        except tg_error.TelegramError as exc:
            log.warning("Telegram: could not register the command menu: %s", redact(str(exc), self._token))

    async def _start_webhook(self) -> None:
        settings = self.settings
        secret = webhook_secret(self._token)
        self._webhook = WebhookServer(
            settings.webhook_listen, settings.webhook_port, settings.webhook_path, secret, self.receive
        )
        await self._webhook.start()
        await self.bot.set_webhook(settings.webhook_url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES))
        self._owed_task = asyncio.create_task(self._deliver_owed(), name="telegram-owed")

    async def _release(self) -> None:
        if self._updates_request is not None:
            await self._updates_request.shutdown()
            self._updates_request = None
        if self._application is not None:
            with contextlib.suppress(tg_error.TelegramError):
                await self._application.shutdown()
            self._application = None
        for name in TOKEN_LOGGERS:
            logging.getLogger(name).removeFilter(self._log_filter)


async def _wait_event(event: asyncio.Event, timeout_s: float) -> None:
    """Wait until `event` is set or `timeout_s` passes.

    Not `asyncio.wait_for`: on Python 3.11 it swallows a cancellation that arrives as the event is set,
    which made `stop()` wait forever for the polling task.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await event.wait()


class _RedactToken(logging.Filter):
    """Keeps the bot token out of log records (request URLs contain it)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._token and self._token in message:
            record.msg, record.args = redact(message, self._token), None
        return True


def create_adapter(app: BotApp) -> TelegramAdapter:
    """The Telegram adapter for `app`; raises `TelegramAdapterError` saying what to set when it cannot run."""
    token = app.config.secrets.telegram_bot_token
    if token is None or not token.get_secret_value().strip():
        raise TelegramAdapterError(
            "no Telegram bot token: set TELEGRAM_BOT_TOKEN (or telegram_bot_token in the secrets file) "
            "to the token @BotFather gave you",
            retryable=False,
        )
    settings = app.config.settings.telegram
    if settings.mode == "webhook" and not settings.webhook_url:
        raise TelegramAdapterError(
            "telegram.webhook_url is required in webhook mode: the public https URL Telegram posts updates to",
            retryable=False,
        )
    return TelegramAdapter(app, token.get_secret_value().strip())


class ProgressMessage:
    """A reply shown while it is generated: sent with the first partial text, then edited as it grows.

    The manager throttles updates (`[bot] progress_interval_s`) and gates every partial text; editing is
    best effort, the final reply is what counts.
    """

    def __init__(self, bot: Any, incoming: IncomingMessage) -> None:
        self.bot = bot
        self.incoming = incoming
        self.chat = chat_ref(incoming.conversation.chat_id)
        self.message_id = ""

    async def show(self, text: str) -> None:
        text = text[: MessageLimit.MAX_TEXT_LENGTH]
        try:
            if not self.message_id:
                thread = self.incoming.conversation.thread_id
                reply = None
                if self.incoming.platform_message_id.isdigit():
                    reply = ReplyParameters(int(self.incoming.platform_message_id), allow_sending_without_reply=True)
                sent = await self.bot.send_message(
                    self.chat, text, message_thread_id=int(thread) if thread.isdigit() else None, reply_parameters=reply
                )
                self.message_id = str(sent.message_id)
            else:
                await self.bot.edit_message_text(text, chat_id=self.chat, message_id=int(self.message_id))
        except tg_error.TelegramError as exc:
            log.debug("progress update failed: %s", type(exc).__name__)

    async def finish(self, reply: OutgoingMessage) -> bool:
        """Edit the progress message into the final reply; False when it must be sent normally instead."""
        if not self.message_id:
            return False
        if len(reply.text) > MessageLimit.MAX_TEXT_LENGTH:
            with contextlib.suppress(tg_error.TelegramError):
                await self.bot.delete_message(self.chat, int(self.message_id))
            return False
        try:
            await self.bot.edit_message_text(reply.text, chat_id=self.chat, message_id=int(self.message_id))
        except tg_error.BadRequest as exc:
            return "not modified" in str(exc).lower()  # the last partial text already was the final one
        except tg_error.TelegramError:
            return False
        return True
