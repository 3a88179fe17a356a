"""The Discord connection: gateway events in, through discord.py's client, to the app's inbox.

discord.py owns the gateway (heartbeats, reconnects, RESUME) and the REST rate-limit buckets; this adapter
only translates events with `adapters.discord.convert` and hands them to the inbox, which stores each one
on arrival (even while earlier turns of the same conversation are still being answered), together with
the gateway session a restart RESUMEs to get what this process never stored (`adapters.discord.session`).
Replies go out through the core's dispatcher and `DiscordTransport` (chunked to 2,000 characters, nonces
that Discord deduplicates, mentions that can never ping anyone).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import discord
from discord import app_commands
from discord.gateway import DiscordWebSocket
from pydantic import SecretStr

from adapters.base import AdapterCapabilities
from adapters.discord.commands import install_commands
from adapters.discord.convert import (
    MAX_MESSAGE_LENGTH,
    PLATFORM,
    DiscordAccess,
    interaction_to_incoming,
    may_speak,
    to_incoming,
)
from adapters.discord.errors import DiscordAdapterError
from adapters.discord.session import (
    SESSION_STREAM,
    EventKey,
    GatewaySession,
    SequenceTracker,
    close_replay,
    replay_session,
    track_live_sequences,
)
from adapters.discord.settings import DiscordSection
from adapters.discord.transport import DiscordTransport, InteractionSurface, allowed_mentions
from bot.messages import IncomingMessage, OutgoingMessage, PlatformAction
from bot.platform import PlatformContext
from bot.secret_logging import keep_out_of_logs

log = logging.getLogger(__name__)

# How long the RESUME of the previous process's session may take before the bot carries on without it.
REPLAY_TIMEOUT_S = 30.0
# A close code Discord treats as an error, not a logout: the session stays resumable.
RESUMABLE_CLOSE = 4000


def bot_intents() -> discord.Intents:
    """Guilds, guild and DM messages with their content; no member list or presences are needed."""
    intents = discord.Intents.default()
    intents.message_content = True
    return intents


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
        await self.adapter.on_message_edit(payload.message, payload.message_id)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        self.adapter.on_message_delete(payload.message_id)


class DiscordAdapter:
    """A running Discord bot: DMs, mentions, replies and slash commands go into the app's inbox.

    Use as `async with DiscordAdapter(app, token):` or call `start()` and `stop()`.
    """

    platform = PLATFORM
    capabilities = AdapterCapabilities(
        max_text_length=MAX_MESSAGE_LENGTH, can_edit=True, can_show_typing=True, supports_threads=True
    )

    def __init__(self, app: PlatformContext, token: str | SecretStr, ready_timeout_s: float = 60.0) -> None:
        self.app = app
        self._token = token if isinstance(token, SecretStr) else SecretStr(token)
        keep_out_of_logs(self._token.get_secret_value())
        self.settings = app.config.section(DiscordSection)
        self.access = DiscordAccess.from_config(app.config)
        self.ready_timeout_s = ready_timeout_s
        self.client = _GatewayClient(self, self.settings.guild_ready_timeout_s)
        self.transport = DiscordTransport(self.client)
        self.tree: app_commands.CommandTree[_GatewayClient] = app_commands.CommandTree(self.client)
        self.slash_commands: list[str] = []
        self._ready = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        # The gateway session saved in the store, RESUMEd once this process's own session is ready.
        self._saved_session: GatewaySession | None = None
        self._replay_socket: list[DiscordWebSocket] = []
        self._replay_task: asyncio.Task[None] | None = None
        self._replaying = False  # while the old session is replayed, it stays the saved one
        self._live_sequence = SequenceTracker(lambda: self.client.ws)
        self._replay_sequence = SequenceTracker(lambda: self._replay_socket[0] if self._replay_socket else None)
        track_live_sequences(self.client, self._live_sequence)

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
        self._saved_session = GatewaySession.from_text(self.app.inbox.position(SESSION_STREAM))
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
        log.info("connected to Discord as %s with %d slash commands", self.client.user, len(self.slash_commands))

    async def stop_receiving(self) -> None:
        """Nothing to do: events that still arrive are stored (never lost) but answered on the next start."""

    async def stop(self) -> None:
        """Let the app finish replies in flight (`[delivery] shutdown_grace_s`), then disconnect keeping the
        gateway session resumable; what is cut off stays stored and goes out on the next start."""
        if self._ready.is_set():
            await self.app.drain()
        self.app.disconnect(self.transport)
        if self._replay_task is not None:
            self._replay_task.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._replay_task
            self._replay_task = None
        await close_replay(self._replay_socket, code=RESUMABLE_CLOSE)
        await self._close_keeping_session()

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
        """Connected (or reconnected): the dispatcher posts through Discord, owed replies go out."""
        self._ready.set()
        self.app.connect(self.transport)
        saved, self._saved_session = self._saved_session, None
        if saved is not None and saved.session_id != self.client.ws.session_id:
            self._replaying = True
            self._replay_task = asyncio.create_task(self._replay(saved), name="discord-replay")

    async def on_message(self, message: discord.Message) -> None:
        key: EventKey = ("MESSAGE_CREATE", message.id)
        user = self.client.user
        incoming = self._translate(message, user.id, is_edit=False) if user is not None else None
        await self._receive(incoming, key)

    async def on_message_edit(self, message: discord.Message, message_id: int) -> None:
        key: EventKey = ("MESSAGE_UPDATE", message_id)
        user = self.client.user
        incoming = None
        # No edit time: an embed was added, not a user edit.
        if user is not None and message.edited_at is not None:
            incoming = self._translate(message, user.id, is_edit=True)
        await self._receive(incoming, key)

    def on_message_delete(self, message_id: int) -> None:
        """Remember the deletion so a reply still being generated for that message is not posted."""
        self.app.dispatcher.message_deleted(PLATFORM, str(message_id))
        log.info("message %s was deleted on Discord", message_id)

    async def on_command(self, interaction: discord.Interaction, name: str, args: str) -> None:
        """A slash command: acknowledged at once (generation may be slow), answered with follow-ups."""
        incoming = interaction_to_incoming(interaction, name, args, self.access)
        private = not may_speak(self.access, interaction.guild_id, interaction.channel)
        try:
            await interaction.response.defer(thinking=True, ephemeral=private)
        except discord.HTTPException as exc:
            log.warning(
                "could not acknowledge /%s (Discord answered %s): a replay or an expired interaction",
                name,
                exc.status,
                extra={"session": incoming.conversation.session_id},
            )
            return
        await self.app.inbox.receive(incoming, surface=InteractionSurface(interaction, private))

    # a Sender for features and tests: thin doors to the dispatcher -----------------------------------

    async def send(self, message: OutgoingMessage) -> list[str]:
        """Post `message` through the dispatcher (2,000-character chunks, deduplicating nonces)."""
        return await self.app.dispatcher.send(message)

    async def perform(self, action: PlatformAction) -> None:
        await self.transport.perform(action)

    async def flush_undelivered(self) -> None:
        """Send the replies stored as owed (a crash, an outage, a failure) that are not being sent now."""
        await self.app.dispatcher.deliver_owed(PLATFORM)

    # internals ----------------------------------------------------------------------------------------

    async def _close_keeping_session(self) -> None:
        """Disconnect with 4000 instead of discord.py's 1000 (which ends the session), so the next start
        RESUMEs it and gets what people sent while the bot was down, within Discord's resume window."""
        if self._runner is not None:
            self._runner.cancel()  # else discord.py's connect loop would reconnect after the close
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._runner
            self._runner = None
        socket = self.client.ws
        if socket is not None and socket.open:
            with contextlib.suppress(Exception):
                await socket.close(code=RESUMABLE_CLOSE)
        await self.client.close()  # the socket is closed already: only the HTTP session is left to close

    async def _receive(self, incoming: IncomingMessage | None, key: EventKey) -> None:
        """Store `incoming` (if any) with the gateway position it allows saving; then the sequence may pass it.

        When storing fails the event stays held: the saved sequence stops before it, so the next start
        gets it replayed (with what followed, which the inbox recognises as replays).
        """
        if incoming is not None:
            await self.app.inbox.receive(incoming, stream_position=self._stream_position(key))
        self._live_sequence.settle(key)
        self._replay_sequence.settle(key)

    def _stream_position(self, key: EventKey) -> tuple[str, str] | None:
        if self._replaying and not self._replay_sequence.holds(key):
            return None  # a live message while the old session replays: the old one stays the saved one
        tracker = self._replay_sequence if self._replaying else self._live_sequence
        position = tracker.position(settling=key)
        return (SESSION_STREAM, position.to_text()) if position is not None else None

    async def _replay(self, saved: GatewaySession) -> None:
        """RESUME the previous process's session so Discord replays what it delivered and the store lacks."""
        outcome = await replay_session(
            self.client, saved, self._replay_sequence, self._replay_socket, timeout=REPLAY_TIMEOUT_S
        )
        if outcome.resumed:
            if not await self._replay_sequence.wait_settled(REPLAY_TIMEOUT_S):
                log.warning("replayed Discord messages were not all stored within %.0fs", REPLAY_TIMEOUT_S)
            log.info("resumed the previous Discord session: what it missed is stored")
        else:
            log.info("did not resume the previous Discord session: %s; answering from the store", outcome.reason)
        self._replaying = False
        position = self._live_sequence.position()
        if position is not None:
            self.app.inbox.advance(SESSION_STREAM, position.to_text())
        await close_replay(self._replay_socket)

    def _translate(self, message: discord.Message, bot_user_id: int, is_edit: bool) -> IncomingMessage | None:
        try:
            return to_incoming(message, bot_user_id, self.access, is_edit=is_edit)
        except Exception:
            log.exception("could not translate Discord message %s; dropped", message.id)
            return None


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
