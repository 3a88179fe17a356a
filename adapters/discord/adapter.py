"""The Discord connection: gateway events in, manager replies out, through discord.py's client.

discord.py owns the gateway (heartbeats, reconnects, RESUME) and the REST rate-limit buckets; this adapter
only translates events with `adapters.discord.convert`, hands them to the manager and delivers what the
manager returns: chunked to 2,000 characters, with mentions that can never ping anyone, recorded as sent
or failed so that nothing owed is silently dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
from collections import OrderedDict
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

import discord
from discord import app_commands
from pydantic import SecretStr

from adapters.base import AdapterCapabilities
from adapters.discord.commands import install_commands
from adapters.discord.convert import (
    MAX_MESSAGE_LENGTH,
    PLATFORM,
    DiscordAccess,
    channel_id_for,
    interaction_to_incoming,
    may_speak,
    to_incoming,
)
from adapters.discord.errors import DiscordAdapterError, delivery_error
from bot.app import BotApp
from bot.delivery import DeliveryError
from bot.manager import ConversationManager
from bot.messages import IncomingMessage, OutgoingMessage, PlatformAction
from bot.store import IGNORED
from bot.text_split import chunk_spans

log = logging.getLogger(__name__)

# Discord keeps a typing indicator for about 10 seconds; refresh it before it fades.
TYPING_REFRESH_S = 8.0
MAX_TIMEOUT = timedelta(days=28)  # the longest timeout Discord accepts
NONCE_LENGTH = 25  # Discord's limit for a string nonce
REMEMBERED_DELETIONS = 2048


def bot_intents() -> discord.Intents:
    """Guilds, guild and DM messages with their content; no member list or presences are needed."""
    intents = discord.Intents.default()
    intents.message_content = True
    return intents


def allowed_mentions(ping_replied_user: bool = False) -> discord.AllowedMentions:
    """Mentions that never notify @everyone/@here, a role or a user; only the user replied to, when asked."""
    return discord.AllowedMentions(everyone=False, users=False, roles=False, replied_user=ping_replied_user)


def message_nonce(idempotency_key: str, chunk_index: int) -> str:
    """A deterministic nonce per chunk, so a repeated send of the same reply is deduplicated by Discord."""
    return hashlib.sha256(f"{idempotency_key}#{chunk_index}".encode()).hexdigest()[:NONCE_LENGTH]


def idempotency_key_for(message: OutgoingMessage) -> str:
    """The message's own key, else one derived from the stored reply so retries of it reuse the nonces."""
    if message.idempotency_key:
        return message.idempotency_key
    if message.stored_message_id is not None:
        session = message.conversation.session_id
        return f"{session}:{message.reply_to_message_id}:{message.stored_message_id}"
    return ""


class _GatewayClient(discord.Client):
    """discord.py's client with its events forwarded to the adapter."""

    def __init__(self, adapter: DiscordAdapter, guild_ready_timeout: float) -> None:
        super().__init__(
            intents=bot_intents(), allowed_mentions=allowed_mentions(), guild_ready_timeout=guild_ready_timeout
        )
        self.adapter = adapter

    async def setup_hook(self) -> None:
        await self.adapter.sync_commands()

    async def on_ready(self) -> None:
        await self.adapter.on_ready()

    async def on_resumed(self) -> None:
        log.info("discord session resumed")

    async def on_message(self, message: discord.Message) -> None:
        await self.adapter.on_message(message)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        await self.adapter.on_message_edit(payload.message)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        self.adapter.on_message_delete(payload.message_id)


class DiscordAdapter:
    """A running Discord bot: answers DMs, mentions, replies and slash commands through the manager.

    It is also the `bot.delivery.Sender` for Discord, so features can post and moderate through it.
    Use as `async with DiscordAdapter(app, token):` or call `start()` and `stop()`.
    """

    platform = PLATFORM
    capabilities = AdapterCapabilities(
        max_text_length=MAX_MESSAGE_LENGTH, can_edit=True, can_show_typing=True, supports_threads=True
    )

    def __init__(self, app: BotApp, token: str | SecretStr, ready_timeout_s: float = 60.0) -> None:
        self.app = app
        self._token = token if isinstance(token, SecretStr) else SecretStr(token)
        self.settings = app.config.settings.discord
        self.access = DiscordAccess.from_config(app.config)
        self.ready_timeout_s = ready_timeout_s
        self.client = _GatewayClient(self, self.settings.guild_ready_timeout_s)
        self.tree: app_commands.CommandTree[_GatewayClient] = app_commands.CommandTree(self.client)
        self.slash_commands: list[str] = []
        self._ready = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._in_flight: set[int] = set()
        self._deleted: OrderedDict[str, None] = OrderedDict()
        self._flush_lock = asyncio.Lock()

    @property
    def manager(self) -> ConversationManager:
        return self.app.manager

    # lifecycle ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in, connect to the gateway and wait until Discord says the bot is ready."""
        self.slash_commands = install_commands(self.tree, self.app.commands.all(), self.on_command)
        try:
            await self.client.login(self._token.get_secret_value())
        except discord.LoginFailure:
            await self.client.close()
            raise DiscordAdapterError(
                "Discord rejected the bot token: copy it again from the developer portal into DISCORD_BOT_TOKEN",
                retryable=False,
            ) from None
        except (discord.HTTPException, OSError) as exc:
            await self.client.close()
            raise DiscordAdapterError(
                f"could not log in to Discord ({type(exc).__name__}); check the network"
            ) from None
        self._runner = asyncio.create_task(self.client.connect(reconnect=True), name="discord-gateway")
        ready = asyncio.create_task(self._ready.wait())
        done, _ = await asyncio.wait(
            {self._runner, ready}, timeout=self.ready_timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        ready.cancel()
        if self._runner in done:
            failure = self._runner.exception()
            await self.client.close()
            raise DiscordAdapterError(gateway_failure_reason(failure), retryable=False) from None
        if not done:
            await self.stop()
            raise DiscordAdapterError(f"Discord did not become ready within {self.ready_timeout_s:.0f}s")
        self.app.register_sender(self)
        log.info("connected to Discord as %s with %d slash commands", self.client.user, len(self.slash_commands))

    async def stop(self) -> None:
        """Disconnect; replies not yet confirmed stay stored as owed and are sent on the next start."""
        if self.app.senders.get(self.platform) is self:
            del self.app.senders[self.platform]
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.client.close()
        if self._runner is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._runner
            self._runner = None

    async def __aenter__(self) -> DiscordAdapter:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def sync_commands(self) -> None:
        """Register the slash commands with Discord as configured (global, per guild, or not at all)."""
        mode = self.settings.sync_commands
        try:
            if mode == "global":
                await self.tree.sync()
            elif mode == "guild":
                for guild_id in self.settings.command_guild_ids:
                    guild = discord.Object(id=guild_id)
                    self.tree.copy_global_to(guild=guild)
                    await self.tree.sync(guild=guild)
        except discord.HTTPException as exc:
            log.warning(
                "could not register slash commands (Discord answered %s): invite the bot with the "
                "applications.commands scope",
                exc.status,
            )

    # gateway events -----------------------------------------------------------------------------------

    async def on_ready(self) -> None:
        self._ready.set()
        self._spawn(self.flush_undelivered())

    async def on_message(self, message: discord.Message) -> None:
        user = self.client.user
        if user is None:
            return
        incoming = self._translate(message, user.id, is_edit=False)
        if incoming is None:
            return
        guild_id = message.guild.id if message.guild is not None else None
        speaking = may_speak(self.access, guild_id, message.channel)
        await self._handle(incoming, speaking, show_typing=speaking and incoming.is_addressed_to_bot)

    async def on_message_edit(self, message: discord.Message) -> None:
        user = self.client.user
        if user is None or message.edited_at is None:  # no edit time: an embed was added, not a user edit
            return
        incoming = self._translate(message, user.id, is_edit=True)
        if incoming is None:
            return
        guild_id = message.guild.id if message.guild is not None else None
        await self._handle(incoming, may_speak(self.access, guild_id, message.channel), show_typing=False)

    def on_message_delete(self, message_id: int) -> None:
        """Remember the deletion so a reply still being generated for that message is not posted."""
        self._deleted[str(message_id)] = None
        while len(self._deleted) > REMEMBERED_DELETIONS:
            self._deleted.popitem(last=False)
        log.info("message %s was deleted on Discord", message_id)

    async def on_command(self, interaction: discord.Interaction, name: str, args: str) -> None:
        """A slash command: acknowledged at once (generation may be slow), answered with follow-ups."""
        incoming = interaction_to_incoming(interaction, name, args, self.access)
        session = incoming.conversation.session_id
        private = not may_speak(self.access, interaction.guild_id, interaction.channel)
        try:
            await interaction.response.defer(thinking=True, ephemeral=private)
        except discord.HTTPException as exc:
            log.warning(
                "could not acknowledge /%s (Discord answered %s): a replay or an expired interaction",
                name,
                exc.status,
                extra={"session": session},
            )
            return
        try:
            outgoing = await self.manager.handle(incoming)
            self._claim(outgoing)
            answer = next(
                (
                    out
                    for out in outgoing
                    if out.conversation == incoming.conversation
                    and out.reply_to_message_id == incoming.platform_message_id
                ),
                None,
            )
            for out in outgoing:
                if out is not answer:
                    await self._deliver(out)
            if answer is not None:
                await self._follow_up(interaction, answer, private)
            else:
                await interaction.delete_original_response()
        except Exception:
            log.exception("slash command /%s failed", name, extra={"session": session})

    # delivery (the bot.delivery.Sender protocol) ------------------------------------------------------

    async def send(self, message: OutgoingMessage) -> list[str]:
        """Post `message` in its channel or thread, in chunks of at most 2,000 characters, in order.

        A stored reply is recorded as sent (with the first chunk's id) or as failed, so a failure is retried
        on the next start; raises `DeliveryError` when Discord refuses or cannot be reached.
        """
        stored_id = message.stored_message_id
        if stored_id is not None:
            self._in_flight.add(stored_id)
        try:
            ids = await self._post(message)
        except DeliveryError as exc:
            log.warning("delivery failed (%s)", exc, extra={"session": message.conversation.session_id})
            self.manager.record_delivery_failure(message, str(exc), exc.delivered_chars)
            raise
        finally:
            if stored_id is not None:
                self._in_flight.discard(stored_id)
        self.manager.record_delivery(message, ids[0] if ids else "")
        return ids

    async def perform(self, action: PlatformAction) -> None:
        """Delete a message, time a member out, or lift a timeout; raises `DeliveryError` when refused."""
        what = f"{action.kind} in {action.conversation.session_id}"
        try:
            if action.kind == "delete_message":
                await self.client.http.delete_message(
                    channel_id_for(action.conversation), int(action.message_id), reason=action.reason or None
                )
            elif action.kind in ("timeout_user", "lift_timeout"):
                member = await self._member(action)
                until = (
                    min(timedelta(seconds=action.duration_s), MAX_TIMEOUT) if action.kind == "timeout_user" else None
                )
                await member.timeout(until, reason=action.reason or None)
            else:
                raise DeliveryError(f"unknown platform action {action.kind!r}", retryable=False)
        except DeliveryError:
            raise
        except ValueError:
            raise DeliveryError(f"{what}: ids must be Discord snowflakes", retryable=False) from None
        except Exception as exc:
            raise delivery_error(exc, what) from None

    async def flush_undelivered(self) -> None:
        """Send the replies stored as owed (a crash, an outage, a failure) that are not being sent now."""
        async with self._flush_lock:
            for owed in self.manager.undelivered(PLATFORM):
                if owed.stored_message_id in self._in_flight:
                    continue
                await self._deliver(owed)

    # internals ----------------------------------------------------------------------------------------

    def _translate(self, message: discord.Message, bot_user_id: int, is_edit: bool) -> IncomingMessage | None:
        try:
            return to_incoming(message, bot_user_id, self.access, is_edit=is_edit)
        except Exception:
            log.exception("could not translate Discord message %s; dropped", message.id)
            return None

    async def _handle(self, incoming: IncomingMessage, speaking: bool, show_typing: bool) -> None:
        session = incoming.conversation.session_id
        typing = await self._start_typing(channel_id_for(incoming.conversation)) if show_typing else None
        progress = (
            ProgressMessage(self.client, incoming) if show_typing and speaking and self.settings.show_progress else None
        )
        try:
            outgoing = await self.manager.handle(incoming, progress=progress.show if progress else None)
        finally:
            if typing is not None:
                typing.cancel()
        self._claim(outgoing)
        for out in outgoing:
            if out.conversation == incoming.conversation and not speaking:
                self._discard(out, "the bot may not speak in this channel")
            elif progress is not None and out.conversation == incoming.conversation and await progress.finish(out):
                self._in_flight.discard(out.stored_message_id or -1)
                self.manager.record_delivery(out, progress.message_id)
            else:
                await self._deliver(out)
        log.debug(
            "handled message %s with %d replies",
            incoming.platform_message_id,
            len(outgoing),
            extra={"session": session},
        )

    async def _deliver(self, message: OutgoingMessage) -> None:
        if message.conversation.platform != PLATFORM:  # e.g. a staff notice to a Telegram chat
            await self.app.deliver(message)
            return
        if message.reply_to_message_id and message.reply_to_message_id in self._deleted:
            self._discard(message, "the message it answers was deleted")
            return
        with contextlib.suppress(DeliveryError):  # logged and recorded as owed by send()
            await self.send(message)

    def _claim(self, outgoing: list[OutgoingMessage]) -> None:
        """Mark fresh replies as being sent here, so a concurrent flush of owed replies leaves them alone."""
        self._in_flight.update(out.stored_message_id for out in outgoing if out.stored_message_id is not None)

    def _discard(self, message: OutgoingMessage, reason: str) -> None:
        log.info("reply not sent: %s", reason, extra={"session": message.conversation.session_id})
        if message.stored_message_id is not None:
            self._in_flight.discard(message.stored_message_id)
            self.app.store.set_status(message.stored_message_id, IGNORED)

    async def _post(self, message: OutgoingMessage) -> list[str]:
        channel = self.client.get_partial_messageable(channel_id_for(message.conversation))
        reference = None
        if message.reply_to_message_id.isdigit():
            reference = discord.MessageReference(
                message_id=int(message.reply_to_message_id), channel_id=channel.id, fail_if_not_exists=False
            )
        key = idempotency_key_for(message)
        ids = []
        delivered = message.delivered_chars
        for chunk, start, end in chunk_spans(message.text, MAX_MESSAGE_LENGTH, delivered):
            # Nonces follow the chunk's place in the whole text, so a resumed send never reuses one.
            options: dict[str, Any] = {"nonce": message_nonce(key, start)} if key else {}
            if start == 0 and reference is not None:
                options["reference"] = reference
            if start == 0 and message.document is not None:  # a member's data export, as an attachment
                options["file"] = discord.File(io.BytesIO(message.document.data), filename=message.document.filename)
            try:
                sent = await channel.send(
                    chunk, allowed_mentions=allowed_mentions(ping_replied_user="reference" in options), **options
                )
            except Exception as exc:
                raise delivery_error(exc, f"message to {message.conversation.session_id}").after(delivered) from None
            ids.append(str(sent.id))
            delivered = end
        return ids

    async def _follow_up(self, interaction: discord.Interaction, message: OutgoingMessage, private: bool) -> None:
        ids = []
        delivered = message.delivered_chars
        try:
            for chunk, _, end in chunk_spans(message.text, MAX_MESSAGE_LENGTH, delivered):
                sent = await interaction.followup.send(
                    chunk, ephemeral=private, wait=True, allowed_mentions=allowed_mentions()
                )
                ids.append(str(sent.id))
                delivered = end
        except Exception as exc:
            error = delivery_error(exc, f"answer to /{interaction.id}")
            log.warning("slash command answer failed (%s)", error, extra={"session": message.conversation.session_id})
            self.manager.record_delivery_failure(message, str(error), delivered)
            return
        finally:
            if message.stored_message_id is not None:
                self._in_flight.discard(message.stored_message_id)
        self.manager.record_delivery(message, ids[0] if ids else "")

    async def _start_typing(self, channel_id: int) -> asyncio.Task[None]:
        """Show "typing…" now and keep it up until the returned task is cancelled; never fails the turn."""
        await self._send_typing(channel_id)
        return self._spawn(self._keep_typing(channel_id))

    async def _keep_typing(self, channel_id: int) -> None:
        while True:
            await asyncio.sleep(TYPING_REFRESH_S)
            if not await self._send_typing(channel_id):
                return

    async def _send_typing(self, channel_id: int) -> bool:
        try:
            async with asyncio.timeout(5):
                await self.client.http.send_typing(channel_id)
        except (TimeoutError, discord.HTTPException, OSError) as exc:
            log.debug("typing indicator failed in %s: %s", channel_id, type(exc).__name__)
            return False
        return True

    async def _member(self, action: PlatformAction) -> discord.Member:
        channel_id = int(action.conversation.chat_id)  # for threads, chat_id is the parent guild channel
        channel = self.client.get_channel(channel_id) or await self.client.fetch_channel(channel_id)
        guild = getattr(channel, "guild", None)
        if not isinstance(guild, discord.Guild):
            raise DeliveryError(
                f"{action.kind}: {action.conversation.session_id} is not a guild channel", retryable=False
            )
        user_id = int(action.user_id)
        return guild.get_member(user_id) or await guild.fetch_member(user_id)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def gateway_failure_reason(failure: BaseException | None) -> str:
    """What the operator should do when the gateway connection ended before the bot was ready."""
    if isinstance(failure, discord.PrivilegedIntentsRequired):
        return (
            "Discord refused the Message Content intent: enable it under Bot > Privileged Gateway Intents in "
            "the developer portal"
        )
    if isinstance(failure, discord.ConnectionClosed):
        return f"the Discord gateway closed the connection (code {failure.code})"
    if failure is None:
        return "the Discord gateway connection ended before the bot was ready"
    return f"could not connect to the Discord gateway ({type(failure).__name__})"


class ProgressMessage:
    """A reply shown while it is generated: posted with the first partial text, then edited as it grows.

    Edits go through discord.py's HTTP client, so its rate-limit buckets pace them; the manager throttles
    updates too (`[bot] progress_interval_s`). Only gated partial text ever reaches it.
    """

    def __init__(self, client: discord.Client, incoming: IncomingMessage) -> None:
        self.client = client
        self.incoming = incoming
        self.message: discord.Message | None = None

    @property
    def message_id(self) -> str:
        return str(self.message.id) if self.message is not None else ""

    async def show(self, text: str) -> None:
        try:
            if self.message is None:
                channel = self.client.get_partial_messageable(channel_id_for(self.incoming.conversation))
                reference = None
                if self.incoming.platform_message_id.isdigit():
                    reference = discord.MessageReference(
                        message_id=int(self.incoming.platform_message_id),
                        channel_id=channel.id,
                        fail_if_not_exists=False,
                    )
                options: dict[str, Any] = {"reference": reference} if reference is not None else {}
                self.message = await channel.send(
                    text[:MAX_MESSAGE_LENGTH], allowed_mentions=allowed_mentions(ping_replied_user=True), **options
                )
            else:
                await self.message.edit(content=text[:MAX_MESSAGE_LENGTH], allowed_mentions=allowed_mentions())
        except discord.DiscordException as exc:  # progress is best effort; the final reply is what counts
            log.debug("progress update failed: %s", exc)

    async def finish(self, reply: OutgoingMessage) -> bool:
        """Turn the progress message into the final reply; False when it must be sent normally instead."""
        if self.message is None:
            return False
        if len(reply.text) > MAX_MESSAGE_LENGTH:
            with contextlib.suppress(discord.DiscordException):
                await self.message.delete()
            return False
        try:
            await self.message.edit(content=reply.text, allowed_mentions=allowed_mentions())
        except discord.DiscordException:
            return False
        return True
