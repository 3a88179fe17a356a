"""Gateway sessions that outlive the process: what the bot has stored, as a RESUME point for the next start.

Discord never re-sends an event to a new session: what the gateway delivered to a process that died before
storing it is gone unless the next process RESUMEs the dead one. So the adapter saves the session (id,
sequence, resume URL) in the store in the same transaction as each message, and the sequence never moves
past a MESSAGE_CREATE/MESSAGE_UPDATE that is not stored yet (other events may move it: replaying them is
harmless). At the next start, after the fresh session is READY (so guilds and channels are cached and
replayed messages translate exactly like live ones), `replay_session` RESUMEs the old session on a second
socket, lets the gateway replay what the store lacks, and closes it.

This leans on discord.py internals, pinned in pyproject.toml and guarded by
`tests/adapters/discord/test_session_resume.py::test_discord_py_internals_the_resume_hook_relies_on`:
`DiscordWebSocket.from_client(client, gateway=, session=, sequence=, resume=True)` (what `Client.connect`
calls to resume within one process), `poll_event()`, the socket's `sequence`, `session_id`, `gateway` and
`_discord_parsers`, `ConnectionState.parsers` (event name -> parser, called right after the socket
recorded the event's sequence), `ReconnectWebSocket` for INVALID_SESSION, and `Client.close` leaving a
socket the adapter already closed with 4000 (resumable) alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import discord
import yarl
from discord.gateway import DiscordWebSocket, ReconnectWebSocket

log = logging.getLogger(__name__)

# The inbox stream the session is saved under (`Inbox.position` / `Inbox.advance`).
SESSION_STREAM = "discord-gateway"
# Events that carry a message the inbox stores: the sequence must not pass one that is not stored yet.
STORED_EVENTS = ("MESSAGE_CREATE", "MESSAGE_UPDATE")

EventKey = tuple[str, int]  # (event name, message id)


@dataclass(frozen=True)
class GatewaySession:
    """A gateway session to RESUME: everything up to and including `sequence` is stored."""

    session_id: str
    sequence: int
    resume_url: str

    def to_text(self) -> str:
        return json.dumps({"session_id": self.session_id, "sequence": self.sequence, "resume_url": self.resume_url})

    @classmethod
    def from_text(cls, text: str | None) -> GatewaySession | None:
        """The saved session, or None when there is none or it does not parse (then nothing is resumed)."""
        if not text:
            return None
        try:
            values = json.loads(text)
            return cls(str(values["session_id"]), int(values["sequence"]), str(values["resume_url"]))
        except (ValueError, TypeError, KeyError):
            log.warning("the saved Discord gateway session does not parse; starting without it")
            return None


class SequenceTracker:
    """How far one gateway socket's events are stored: its sequence, held back before any message the
    gateway delivered and the inbox has not stored (or dropped) yet."""

    def __init__(self, socket: Callable[[], DiscordWebSocket | None]) -> None:
        self._socket = socket
        self._pending: dict[EventKey, tuple[str, int]] = {}  # -> (session id, sequence)
        self._settled = asyncio.Event()
        self._settled.set()

    def expect(self, key: EventKey) -> None:
        """The socket is parsing the event `key` now (its sequence is the socket's current one)."""
        socket = self._socket()
        if socket is None or socket.sequence is None or socket.session_id is None:
            return
        self._pending.setdefault(key, (socket.session_id, socket.sequence))
        self._settled.clear()

    def settle(self, key: EventKey) -> None:
        """The event's message is stored, a replay, or not for the inbox: the sequence may pass it."""
        self._pending.pop(key, None)
        if not self._pending:
            self._settled.set()

    def position(self, settling: EventKey | None = None) -> GatewaySession | None:
        """The session and the highest sequence safe to save once `settling` is stored; None before READY."""
        socket = self._socket()
        if socket is None or socket.session_id is None or socket.sequence is None:
            return None
        held = [
            sequence
            for key, (session_id, sequence) in self._pending.items()
            if key != settling and session_id == socket.session_id
        ]
        sequence = min(held) - 1 if held else socket.sequence
        return GatewaySession(socket.session_id, sequence, str(socket.gateway))

    def holds(self, key: EventKey) -> bool:
        return key in self._pending

    async def wait_settled(self, timeout: float) -> bool:
        """Until every expected event is settled; False when `timeout` passed first."""
        try:
            async with asyncio.timeout(timeout):
                await self._settled.wait()
        except TimeoutError:
            return False
        return True


def event_key(event: str, data: object) -> EventKey | None:
    if not isinstance(data, dict):
        return None
    try:
        return (event, int(data["id"]))
    except (KeyError, TypeError, ValueError):
        return None


def tracked_parsers(
    parsers: dict[str, Callable[[object], None]], tracker: SequenceTracker
) -> dict[str, Callable[[object], None]]:
    """`parsers` with the message events announced to `tracker` before discord.py parses them."""
    tracked = dict(parsers)
    for event in STORED_EVENTS:
        original = parsers[event]

        def parse(data: object, event: str = event, original: Callable[[object], None] = original) -> None:
            key = event_key(event, data)
            if key is not None:
                tracker.expect(key)
            try:
                original(data)
            except Exception:
                if key is not None:
                    tracker.settle(key)  # discord.py could not parse it: it never reaches the inbox
                raise

        tracked[event] = parse
    return tracked


def track_live_sequences(client: discord.Client, tracker: SequenceTracker) -> None:
    """Announce the client's own (live) message events to `tracker`; the socket keeps using the same dict."""
    parsers: dict[str, Callable[[object], None]] = client._connection.parsers
    parsers.update(tracked_parsers(parsers, tracker))


@dataclass(frozen=True)
class ReplayOutcome:
    """How a RESUME of a saved session ended: `resumed` False means the gateway no longer knew it."""

    resumed: bool
    reason: str


async def replay_session(
    client: discord.Client,
    saved: GatewaySession,
    tracker: SequenceTracker,
    holder: list[DiscordWebSocket],
    timeout: float,
) -> ReplayOutcome:
    """RESUME `saved` on a second socket bound to `client` (whose cache is warm) until Discord says RESUMED.

    Replayed messages go through the client's parsers to its `on_message` like live ones. The socket is
    left open in `holder[0]` (closing it ends the session): close it with `close_replay` once the replayed
    messages are stored.
    """
    resumed = asyncio.Event()
    live: dict[str, Callable[[object], None]] = client._connection.parsers
    parsers = {event: live[event] for event in STORED_EVENTS}
    parsers = tracked_parsers(parsers, tracker)
    parsers["RESUMED"] = lambda data: resumed.set()
    try:
        async with asyncio.timeout(timeout):
            socket = await DiscordWebSocket.from_client(
                client,
                gateway=yarl.URL(saved.resume_url),
                session=saved.session_id,
                sequence=saved.sequence,
                resume=True,
                shard_id=client.shard_id,
            )
            holder.append(socket)
            # From here on only the replay's message events are parsed: the live socket keeps the cache.
            socket._discord_parsers = parsers
            while not resumed.is_set():
                await socket.poll_event()
    except ReconnectWebSocket as exc:
        if not exc.resume:
            return ReplayOutcome(False, "Discord no longer knows the session (invalid session)")
        return ReplayOutcome(False, "Discord asked to reconnect during the replay")
    except TimeoutError:
        return ReplayOutcome(False, f"no RESUMED within {timeout:.0f}s")
    except (OSError, aiohttp.ClientError, discord.ConnectionClosed, discord.GatewayNotFound) as exc:
        return ReplayOutcome(False, f"the resume connection failed ({type(exc).__name__})")
    return ReplayOutcome(True, "resumed")


async def close_replay(holder: list[DiscordWebSocket], code: int = 1000) -> None:
    """Close the replay socket: with 1000 (the replay is stored) Discord ends the old session; with 4000
    (the bot stops mid-replay) it stays resumable for the next start."""
    for socket in holder:
        with contextlib.suppress(Exception):
            await socket.close(code=code)
    holder.clear()
