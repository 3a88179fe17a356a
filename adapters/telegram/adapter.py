"""`TelegramAdapter`: the bot on Telegram, through python-telegram-bot's `Bot`, with its own update loop.

PTB's `Updater` confirms updates (the next getUpdates offset) as soon as it has fetched them, before they
are stored, so a crash loses them. This adapter builds the `Application` without an updater and polls
itself: each update is translated and handed to the app's inbox, which stores it; only then does the
offset it confirms, and persists, move past it. Answering and delivery are the core's (`bot.inbox`,
`bot.dispatch`); replies go out through `TelegramTransport`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from telegram import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
)
from telegram import error as tg_error
from telegram.constants import MessageLimit
from telegram.ext import Application, ApplicationBuilder, ExtBot
from telegram.request import HTTPXRequest

from adapters.base import AdapterCapabilities
from adapters.telegram.admins import AdminCache
from adapters.telegram.convert import (
    ALLOWED_UPDATES,
    PLATFORM,
    chat_ref,
    parse_update,
    to_incoming,
)
from adapters.telegram.errors import MalformedUpdate, TelegramAdapterError, redact
from adapters.telegram.flood import FloodControl, FloodLimits, retry_after_seconds
from adapters.telegram.settings import TOKEN, TelegramSection
from adapters.telegram.transport import TelegramTransport
from bot.delivery import DeliveryError
from bot.messages import IncomingMessage, OutgoingMessage, PlatformAction
from bot.platform import PlatformContext
from bot.secret_logging import keep_out_of_logs

if TYPE_CHECKING:
    from adapters.telegram.webhook import WebhookServer

log = logging.getLogger(__name__)

# The inbox stream holding the id of the last update stored (getUpdates resumes after it).
UPDATE_STREAM = "telegram:updates"
OFFSET_STATE_KEY = f"inbox:{UPDATE_STREAM}"
COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
# Extra read time on top of the long-poll timeout before a silent connection counts as dropped.
POLL_READ_MARGIN_S = 10.0


class TelegramAdapter:
    """Connects one bot token to the app: translates updates into the inbox, and gives the dispatcher a
    `TelegramTransport` to post through while it runs."""

    platform = PLATFORM
    capabilities = AdapterCapabilities(
        max_text_length=MessageLimit.MAX_TEXT_LENGTH, can_edit=True, can_show_typing=True, supports_threads=True
    )

    def __init__(self, app: PlatformContext, token: str) -> None:
        self.app = app
        self.settings = app.config.section(TelegramSection)
        self._token = token
        self._application: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._updates_request: HTTPXRequest | None = None
        self._webhook: WebhookServer | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._stopping = False
        self.transport = TelegramTransport(lambda: self.bot, token, self.settings.typing_interval_s)
        self._admins = AdminCache(self._lookup_admins, self.settings.admin_cache_s)
        keep_out_of_logs(token)  # request URLs contain it
        self.bot_username = ""
        self.bot_id = 0

    # lifecycle ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the token (getMe), register commands, then receive updates (polling or webhook).

        Raises `TelegramAdapterError` (token redacted) when Telegram cannot be reached or refuses the bot.
        """
        self._stopping = False
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
        self.app.set_bot_username(self.platform, self.bot_username)
        await self._register_commands()
        if self.settings.mode == "webhook":
            await self._start_webhook()
        else:
            await self.bot.delete_webhook(drop_pending_updates=False)
            self._updates_request = HTTPXRequest(connection_pool_size=1)
            await self._updates_request.initialize()
            self._poll_task = asyncio.create_task(self._poll_forever(), name="telegram-polling")
        self.app.connect(self.transport)

    async def stop_receiving(self) -> None:
        """Fetch no more updates (those not fetched stay with Telegram); replies can still go out."""
        self._stopping = True
        if self._poll_task is not None:
            self._poll_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll_task
            self._poll_task = None
        if self._webhook is not None:
            self._webhook.stop_accepting()

    async def stop(self) -> None:
        """Stop receiving, let the app finish replies in flight (`[delivery] shutdown_grace_s`), disconnect.

        Whatever is cut off stays stored: unanswered messages are answered, owed replies sent, on the next
        start.
        """
        await self.stop_receiving()
        if self._application is not None:
            await self.app.drain()
        if self._webhook is not None:
            await self._webhook.stop()
            self._webhook = None
        self.app.disconnect(self.transport)
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

    # Sender (for features and tests: a thin door to the dispatcher) --------------------------------

    async def send(self, message: OutgoingMessage) -> list[str]:
        """Post `message` through the dispatcher (chunked at 4,096 characters)."""
        return await self.app.dispatcher.send(message)

    async def perform(self, action: PlatformAction) -> None:
        await self.transport.perform(action)

    # receiving ----------------------------------------------------------------------------------------

    async def receive(self, raw: object) -> None:
        """Store one update from a webhook; returns once it is stored (the answer follows).

        Raises `UpdateNotHandled` when the adapter is stopping, so Telegram delivers it again later.
        """
        if self._stopping:
            from adapters.telegram.webhook import UpdateNotHandled

            raise UpdateNotHandled("the bot is stopping")
        await self._hand_over(raw)

    async def _poll_forever(self) -> None:
        persisted = self.app.inbox.position(UPDATE_STREAM)
        last_stored = int(persisted) if persisted else None
        failures = 0
        while not self._stopping:
            offset = None if last_stored is None else last_stored + 1
            try:
                batch = await self._fetch_updates(offset, None)
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
            for raw in batch:
                update_id = raw.get("update_id") if isinstance(raw, dict) else None
                if not isinstance(update_id, int) or isinstance(update_id, bool):
                    log.warning("Telegram sent an update without an id; skipped")
                    continue
                if last_stored is not None and update_id <= last_stored:
                    continue
                try:
                    await self._hand_over(raw, (UPDATE_STREAM, str(update_id)))
                except Exception:  # not stored: the offset stays, so the update is fetched again
                    log.exception("Telegram update %s could not be stored; fetched again", update_id)
                    await asyncio.sleep(self.settings.network_backoff_s)
                    break
                last_stored = update_id

    async def _hand_over(self, raw: object, position: tuple[str, str] | None = None) -> None:
        """Translate one raw update and hand it to the inbox, which stores it (and, when polling, the
        update id as the stream's position, in the same transaction) before returning."""
        try:
            update = parse_update(raw)
            incoming = to_incoming(update, self.bot_username, self.bot_id)
        except MalformedUpdate as exc:
            log.warning("Telegram update skipped: %s", exc)
            incoming = None
        if incoming is None:
            if position is not None:
                self.app.inbox.advance(*position)
            return
        incoming = await self._with_admin_flag(incoming)
        await self.app.inbox.receive(incoming, stream_position=position)

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
        from adapters.telegram.webhook import WebhookServer, webhook_secret

        settings = self.settings
        secret = webhook_secret(self._token)
        self._webhook = WebhookServer(
            settings.webhook_listen, settings.webhook_port, settings.webhook_path, secret, self.receive
        )
        await self._webhook.start()
        await self.bot.set_webhook(settings.webhook_url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES))

    async def _release(self) -> None:
        if self._updates_request is not None:
            await self._updates_request.shutdown()
            self._updates_request = None
        if self._application is not None:
            with contextlib.suppress(tg_error.TelegramError):
                await self._application.shutdown()
            self._application = None


def create_adapter(app: PlatformContext) -> TelegramAdapter:
    """The Telegram adapter for `app`; raises `TelegramAdapterError` saying what to set when it cannot run."""
    token = app.config.secrets.value(TOKEN.key)
    if token is None or not token.get_secret_value().strip():
        raise TelegramAdapterError(
            "no Telegram bot token: set TELEGRAM_BOT_TOKEN (or telegram_bot_token in the secrets file) "
            "to the token @BotFather gave you",
            retryable=False,
        )
    settings = app.config.section(TelegramSection)
    if settings.mode == "webhook" and not settings.webhook_url:
        raise TelegramAdapterError(
            "telegram.webhook_url is required in webhook mode: the public https URL Telegram posts updates to",
            retryable=False,
        )
    return TelegramAdapter(app, token.get_secret_value().strip())
