"""A fake Discord gateway: a real websocket on 127.0.0.1 speaking gateway v10, for discord.py to connect to.

It covers what a bot session needs: HELLO, IDENTIFY -> READY (with `resume_gateway_url`) and GUILD_CREATE,
heartbeats and their ACKs, DISPATCH of any event with sequence numbers, zlib-stream compression when the
client asks for it, closing the socket with any code, and sessions as Discord keeps them: each live session
buffers what is dispatched to it (bounded), RESUME of a known session replays the events after `seq` then
sends RESUMED, and an unknown, expired or cleanly closed (1000/1001) session is answered INVALID_SESSION
(d=false). It also builds the JSON payloads Discord sends (users, guilds, members, messages, interactions)
so tests describe a world, not wire formats.

Not covered: sharding, rate limiting of gateway sends, presence updates, member chunking (REQUEST_MEMBERS is
ignored), voice, and zstd-stream compression (the fake answers zstd clients with plain text frames, which
discord.py accepts).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

DISCORD_EPOCH_MS = 1420070400000
HEARTBEAT_INTERVAL_MS = 41250
MAX_BUFFERED_EVENTS = 5000  # per session, like Discord's bounded resume backlog
MANAGE_GUILD = 1 << 5
SEND_MESSAGES = 1 << 11
VIEW_CHANNEL = 1 << 10
EVERYONE_PERMISSIONS = VIEW_CHANNEL | SEND_MESSAGES | (1 << 16) | (1 << 31)  # + read history, use app commands

_increment = itertools.count(1)


def snowflake() -> str:
    """A new Discord id whose timestamp is now (discord.py derives message times and rate-limit rules from it)."""
    millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return str((millis << 22) | (next(_increment) % 4096))


def timestamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00", time.gmtime())


def user_payload(user_id: str, name: str, bot: bool = False) -> dict[str, Any]:
    return {
        "id": user_id,
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


def member_payload(
    roles: list[str] | None = None, user: dict[str, Any] | None = None, permissions: int | None = None
) -> dict[str, Any]:
    """A guild member; `user` is included in GUILD_CREATE and interactions, left out inside messages."""
    member: dict[str, Any] = {
        "roles": roles or [],
        "joined_at": timestamp(),
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "nick": None,
        "avatar": None,
        "communication_disabled_until": None,
        "premium_since": None,
    }
    if user is not None:
        member["user"] = user
    if permissions is not None:
        member["permissions"] = str(permissions)
    return member


def role_payload(role_id: str, name: str, permissions: int, position: int = 1) -> dict[str, Any]:
    return {
        "id": role_id,
        "name": name,
        "permissions": str(permissions),
        "position": position,
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "flags": 0,
        "icon": None,
        "unicode_emoji": None,
    }


def text_channel_payload(channel_id: str, guild_id: str, name: str) -> dict[str, Any]:
    return {
        "id": channel_id,
        "type": 0,
        "guild_id": guild_id,
        "name": name,
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "rate_limit_per_user": 0,
        "last_message_id": None,
    }


def thread_payload(thread_id: str, parent_id: str, guild_id: str, owner_id: str, name: str) -> dict[str, Any]:
    return {
        "id": thread_id,
        "type": 11,
        "guild_id": guild_id,
        "parent_id": parent_id,
        "owner_id": owner_id,
        "name": name,
        "message_count": 0,
        "member_count": 1,
        "rate_limit_per_user": 0,
        "flags": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": timestamp(),
            "locked": False,
        },
    }


def dm_channel_payload(channel_id: str, recipient: dict[str, Any]) -> dict[str, Any]:
    return {"id": channel_id, "type": 1, "recipients": [recipient], "last_message_id": None}


@dataclass
class FakeGuild:
    """A guild as the fake knows it: roles, channels, threads and the members the tests talk as."""

    guild_id: str
    owner_id: str
    name: str = "Test Guild"
    roles: list[dict[str, Any]] = field(default_factory=list)
    channels: list[dict[str, Any]] = field(default_factory=list)
    threads: list[dict[str, Any]] = field(default_factory=list)
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # user id -> member payload with user

    def role_permissions(self, role_ids: list[str]) -> int:
        value = 0
        for role in self.roles:
            if role["id"] == self.guild_id or role["id"] in role_ids:
                value |= int(role["permissions"])
        return value

    def create_payload(self) -> dict[str, Any]:
        return {
            "id": self.guild_id,
            "name": self.name,
            "owner_id": self.owner_id,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "features": [],
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "roles": self.roles,
            "emojis": [],
            "stickers": [],
            "channels": self.channels,
            "threads": self.threads,
            "members": list(self.members.values()),
            "member_count": len(self.members),
            "large": False,
            "unavailable": False,
            "joined_at": timestamp(),
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }


@dataclass
class GatewayConnection:
    """One websocket from the client; `path` says whether it came to the main or the resume URL."""

    socket: web.WebSocketResponse
    path: str
    query: dict[str, str]
    compressor: Any = None

    async def send(self, payload: dict[str, Any]) -> None:
        text = json.dumps(payload)
        if self.compressor is not None:
            await self.socket.send_bytes(
                self.compressor.compress(text.encode()) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
            )
        else:
            await self.socket.send_str(text)


@dataclass
class _Session:
    """A gateway session: what was dispatched to it (for RESUME) and the socket it is attached to, if any."""

    session_id: str
    events: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    sequence: int = 0
    connection: GatewayConnection | None = None

    def record(self, event: str, data: dict[str, Any]) -> int:
        self.sequence += 1
        self.events.append((self.sequence, event, data))
        del self.events[: max(0, len(self.events) - MAX_BUFFERED_EVENTS)]
        return self.sequence

    def can_replay_after(self, sequence: int) -> bool:
        """Discord keeps a bounded backlog: a RESUME from before it is an invalid session."""
        return not self.events or sequence >= self.events[0][0] - 1

    async def send(self, sequence: int, event: str, data: dict[str, Any]) -> None:
        connection = self.connection
        if connection is None or connection.socket.closed:
            return
        try:
            await connection.send({"op": 0, "t": event, "s": sequence, "d": data})
        except (ConnectionResetError, RuntimeError):  # the client vanished mid-send (kill -9): kept for RESUME
            self.connection = None


class FakeGateway:
    """The gateway side of a fake Discord: mount `routes()` on an aiohttp app, then dispatch events.

    Like Discord, every live session (one per IDENTIFY, until the client closes it with 1000/1001 or it is
    expired) gets every event with its own sequence numbers, whether a socket is attached or not: a client
    that comes back with RESUME gets what it missed, and a kill -9 leaves its session resumable.
    """

    PATH = "/gateway"
    RESUME_PATH = "/gateway-resume"

    def __init__(self, bot_user: dict[str, Any], application_id: str, guilds: list[FakeGuild]) -> None:
        self.bot_user = bot_user
        self.application_id = application_id
        self.guilds = guilds
        self.base_ws_url = ""  # set once the server listens: ws://127.0.0.1:<port>
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.invalid_sessions = 0
        self.connections: list[GatewayConnection] = []
        self.heartbeats = 0
        self.sessions: dict[str, _Session] = {}
        self._session: _Session | None = None  # the newest identified session
        self._forced_replay_from: int | None = None
        self._changed = asyncio.Condition()

    def routes(self) -> list[web.RouteDef]:
        return [web.get(self.PATH, self._serve), web.get(self.RESUME_PATH, self._serve)]

    # what tests call ----------------------------------------------------------------------------------

    async def dispatch(self, event: str, data: dict[str, Any]) -> int:
        """Send a DISPATCH event to every live session now (kept for RESUME where no socket is attached);
        returns its sequence number in the newest session."""
        current = self._require_session()
        sequence = 0
        for session in list(self.sessions.values()):
            session_sequence = session.record(event, data)
            if session is current:
                sequence = session_sequence
            await session.send(session_sequence, event, data)
        return sequence

    async def drop(self, code: int = 4000, replay_from: int | None = None) -> None:
        """Close the client's socket with `code` (4000: unknown error, resumable). With `replay_from`, the next
        RESUME re-sends events from that sequence on even though the client saw them (a duplicate delivery)."""
        self._forced_replay_from = replay_from
        session = self._require_session()
        connection, session.connection = session.connection, None
        if connection is not None:
            await connection.socket.close(code=code, message=b"fake gateway drop")

    def vanished_session(self) -> str:
        """A session whose client identified and then vanished (kill -9); it becomes the newest session, so
        events dispatched from now on are kept for a RESUME of it. Returns its id."""
        session = self._new_session()
        return session.session_id

    def expire(self, session_id: str) -> None:
        """Discord forgot the session (it was idle too long): a RESUME of it is answered INVALID_SESSION."""
        self.sessions.pop(session_id, None)

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        """Wait until `predicate()` holds (checked whenever the gateway's state changes)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)

    @property
    def session_id(self) -> str:
        return self._require_session().session_id

    @property
    def _current(self) -> GatewayConnection | None:
        """The socket of the newest session, if one is attached."""
        return self._session.connection if self._session is not None else None

    # the protocol -------------------------------------------------------------------------------------

    async def _serve(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoclose=True)
        await socket.prepare(request)
        query = dict(request.query)
        connection = GatewayConnection(socket, request.path, query)
        if query.get("compress") == "zlib-stream":
            connection.compressor = zlib.compressobj()
        self.connections.append(connection)
        await connection.send({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
        async for frame in socket:
            if frame.type is not WSMsgType.TEXT:
                continue
            payload = json.loads(frame.data)
            await self._receive(connection, payload["op"], payload.get("d"))
        for session in list(self.sessions.values()):
            if session.connection is connection:
                session.connection = None
                if socket.close_code in (1000, 1001):  # a clean close ends the session, as on Discord
                    self.sessions.pop(session.session_id, None)
        await self._notify()
        return socket

    async def _receive(self, connection: GatewayConnection, op: int, data: Any) -> None:
        if op == 1:
            self.heartbeats += 1
            await connection.send({"op": 11})
        elif op == 2:
            await self._identify(connection, data)
        elif op == 6:
            await self._resume(connection, data)
        await self._notify()

    def _new_session(self) -> _Session:
        session = _Session(session_id=f"session-{len(self.identifies) + len(self.sessions) + 1}-{snowflake()}")
        self.sessions[session.session_id] = session
        self._session = session
        return session

    async def _identify(self, connection: GatewayConnection, data: dict[str, Any]) -> None:
        self.identifies.append(data)
        session = self._new_session()
        session.connection = connection
        ready = {
            "v": 10,
            "user": self.bot_user,
            "session_id": session.session_id,
            "resume_gateway_url": self.base_ws_url + self.RESUME_PATH,
            "session_type": "normal",
            "guilds": [{"id": guild.guild_id, "unavailable": True} for guild in self.guilds],
            "application": {"id": self.application_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "shard": [0, 1],
        }
        await self._dispatch_to(session, "READY", ready)
        for guild in self.guilds:
            await self._dispatch_to(session, "GUILD_CREATE", guild.create_payload())

    async def _resume(self, connection: GatewayConnection, data: dict[str, Any]) -> None:
        self.resumes.append(data)
        session = self.sessions.get(str(data.get("session_id")))
        replay_after = data.get("seq") or 0
        if session is None or not session.can_replay_after(replay_after):
            self.invalid_sessions += 1
            await connection.send({"op": 9, "d": False})
            return
        session.connection = connection
        if self._forced_replay_from is not None and session is self._session:
            replay_after = min(replay_after, self._forced_replay_from - 1)
            self._forced_replay_from = None
        for sequence, event, payload in list(session.events):
            if sequence > replay_after:
                await session.send(sequence, event, payload)
        await self._dispatch_to(session, "RESUMED", {})

    async def _dispatch_to(self, session: _Session, event: str, data: dict[str, Any]) -> None:
        await session.send(session.record(event, data), event, data)

    def _require_session(self) -> _Session:
        if self._session is None:
            raise RuntimeError("no client has identified with the fake gateway yet")
        return self._session

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()


def message_payload(
    channel_id: str,
    author: dict[str, Any],
    content: str,
    guild: FakeGuild | None = None,
    mentions: list[dict[str, Any]] | None = None,
    referenced: dict[str, Any] | None = None,
    message_id: str | None = None,
    edited: bool = False,
) -> dict[str, Any]:
    """A MESSAGE_CREATE/MESSAGE_UPDATE payload; in a guild the author and mentions carry their member data."""
    payload: dict[str, Any] = {
        "id": message_id or snowflake(),
        "channel_id": channel_id,
        "author": author,
        "content": content,
        "timestamp": timestamp(),
        "edited_timestamp": timestamp() if edited else None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "type": 19 if referenced else 0,
        "flags": 0,
        "components": [],
    }
    for user in mentions or []:
        mention = dict(user)
        if guild is not None and user["id"] in guild.members:
            mention["member"] = {k: v for k, v in guild.members[user["id"]].items() if k != "user"}
        payload["mentions"].append(mention)
    if guild is not None:
        payload["guild_id"] = guild.guild_id
        member = guild.members.get(author["id"])
        if member is not None:
            payload["member"] = {key: value for key, value in member.items() if key != "user"}
    if referenced is not None:
        payload["message_reference"] = {
            "type": 0,
            "message_id": referenced["id"],
            "channel_id": channel_id,
            "guild_id": guild.guild_id if guild else None,
        }
        payload["referenced_message"] = referenced
    return payload


def interaction_payload(
    application_id: str,
    command: str,
    args: str,
    channel: dict[str, Any],
    user: dict[str, Any],
    guild: FakeGuild | None = None,
    interaction_id: str | None = None,
) -> dict[str, Any]:
    """An INTERACTION_CREATE for a slash command; in a guild the member's total permissions come along."""
    interaction_id = interaction_id or snowflake()
    payload: dict[str, Any] = {
        "id": interaction_id,
        "application_id": application_id,
        "type": 2,
        "token": f"token-{interaction_id}",
        "version": 1,
        "channel_id": channel["id"],
        "channel": channel,
        "locale": "en-US",
        "app_permissions": str(EVERYONE_PERMISSIONS),
        "attachment_size_limit": 8 * 1024 * 1024,
        "entitlements": [],
        "data": {
            "id": snowflake(),
            "name": command,
            "type": 1,
            "options": [{"name": "args", "type": 3, "value": args}] if args else [],
        },
    }
    if guild is not None:
        member = dict(guild.members[user["id"]])
        permissions = guild.role_permissions(member["roles"])
        if user["id"] == guild.owner_id:
            permissions = (1 << 41) - 1
        member["permissions"] = str(permissions)
        payload.update(
            guild_id=guild.guild_id,
            guild_locale="en-US",
            member=member,
            context=0,
            authorizing_integration_owners={"0": guild.guild_id},
        )
    else:
        payload.update(user=user, context=1, authorizing_integration_owners={"1": user["id"]})
    return payload
