"""A fake Discord REST API (v10) on 127.0.0.1: the routes a bot calls, recorded for assertions.

Covered: GET /gateway and /gateway/bot, GET /users/@me (token check), GET /oauth2/applications/@me,
PUT global and guild application commands (bulk overwrite), GET /channels/{id}, POST channel messages (with
nonce + enforce_nonce deduplication, and file attachments as multipart/form-data, kept in `uploads`), POST
typing, DELETE a message, GET/PATCH a guild member (timeouts), interaction callbacks (acknowledged once; a
second one is refused like Discord does), webhook follow-ups and the original interaction response. Any route
can be scripted to fail (`fail_next`), e.g. a 429 with a `Via` header and a JSON `retry_after` that
discord.py waits out and retries.

Not covered: rate-limit bucket headers on success, embeds, reactions, editing messages, guild/channel
management and audit logs.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.discord_gateway import FakeGuild, snowflake, timestamp

API_PREFIX = "/api/v10"
JSON_TYPE = "application/json"  # discord.py only parses a body whose content type is exactly this


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": JSON_TYPE, **(headers or {})}
    )


def parse_multipart(content_type: str, raw: bytes) -> tuple[Any, list[tuple[str, bytes]]]:
    """`payload_json` and the uploaded files (name, bytes) of a multipart/form-data body (a message with files)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    payload: Any = None
    files: list[tuple[str, bytes]] = []
    for part in message.iter_parts():
        data = part.get_payload(decode=True) or b""
        if part.get_param("name", header="content-disposition") == "payload_json":
            payload = json.loads(data)
        elif part.get_filename():
            files.append((str(part.get_filename()), data))
    return payload, files


@dataclass(frozen=True)
class RecordedRequest:
    """A request the bot made; `authorized` says whether it carried the expected bot token."""

    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    body: Any
    authorized: bool


@dataclass
class ScriptedFailure:
    method: str
    path_pattern: str
    status: int
    body: Any
    headers: dict[str, str]
    remaining: int
    # Matching requests that still succeed before this failure starts.
    succeed_first: int = 0


@dataclass
class FakeDiscordRest:
    """The REST half of a fake Discord, sharing the world (bot user, guilds) with the fake gateway."""

    token: str
    bot_user: dict[str, Any]
    application_id: str
    guilds: list[FakeGuild]
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    gateway_url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    created_messages: list[dict[str, Any]] = field(default_factory=list)  # as Discord returned them
    uploads: list[tuple[str, str, bytes]] = field(default_factory=list)  # (path, file name, bytes) of attachments
    # Called with each message the bot created, e.g. to echo it back as MESSAGE_CREATE like Discord does.
    on_message_created: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    _failures: list[ScriptedFailure] = field(default_factory=list)
    _nonces: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    _acknowledged: set[str] = field(default_factory=set)

    def routes(self) -> list[web.RouteDef]:
        p = API_PREFIX
        return [
            web.get(p + "/gateway", self._gateway),
            web.get(p + "/gateway/bot", self._gateway_bot),
            web.get(p + "/users/@me", self._me),
            web.get(p + "/oauth2/applications/@me", self._application),
            web.put(p + "/applications/{app}/commands", self._bulk_commands),
            web.put(p + "/applications/{app}/guilds/{guild}/commands", self._bulk_commands),
            web.get(p + "/channels/{channel}", self._channel),
            web.post(p + "/channels/{channel}/messages", self._create_message),
            web.post(p + "/channels/{channel}/typing", self._no_content),
            web.delete(p + "/channels/{channel}/messages/{message}", self._no_content),
            web.patch(p + "/channels/{channel}/messages/{message}", self._edit_message),
            web.get(p + "/guilds/{guild}/members/{user}", self._member),
            web.patch(p + "/guilds/{guild}/members/{user}", self._member),
            web.post(p + "/interactions/{interaction}/{token}/callback", self._interaction_callback),
            web.post(p + "/webhooks/{app}/{token}", self._followup),
            web.patch(p + "/webhooks/{app}/{token}/messages/@original", self._followup),
            web.delete(p + "/webhooks/{app}/{token}/messages/@original", self._no_content),
        ]

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Record every API request and apply scripted failures before the route answers."""
        if not request.path.startswith(API_PREFIX):
            return await handler(request)
        path = request.path[len(API_PREFIX) :]
        raw = await request.read()
        body = json.loads(raw) if raw and request.content_type == JSON_TYPE else None
        if raw and request.content_type == "multipart/form-data":
            body, files = parse_multipart(request.headers["Content-Type"], raw)
            self.uploads.extend((path, name, data) for name, data in files)
        authorized = request.headers.get("Authorization") == f"Bot {self.token}"
        self.requests.append(RecordedRequest(request.method, path, dict(request.query), body, authorized))
        for failure in self._failures:
            if failure.remaining and failure.method == request.method and re.fullmatch(failure.path_pattern, path):
                if failure.succeed_first:
                    failure.succeed_first -= 1
                    break
                failure.remaining -= 1
                return json_response(failure.body, failure.status, failure.headers)
        if path == "/users/@me" and not authorized:
            return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        return await handler(request)

    # what tests call ----------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path_pattern: str,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """Answer the next `times` matching requests (path regex, without /api/v10), after `after` more
        successes, with this error."""
        self._failures.append(
            ScriptedFailure(
                method, path_pattern, status, body or {"message": "scripted", "code": 0}, headers or {}, times, after
            )
        )

    def rate_limit_next(self, method: str, path_pattern: str, retry_after: float = 0.05) -> None:
        """One 429 as Discord's edge sends it (with `Via`), which discord.py sleeps out and retries."""
        self.fail_next(
            method,
            path_pattern,
            429,
            {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
            {"Via": "1.1 google", "X-RateLimit-Scope": "user"},
        )

    def calls(self, method: str, path_pattern: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and re.fullmatch(path_pattern, r.path)]

    def sent_messages(self, channel_id: str | None = None) -> list[dict[str, Any]]:
        """The payloads of the messages the bot posted (channel messages and interaction follow-ups)."""
        found = []
        for request in self.requests:
            match = re.fullmatch(r"/channels/(\d+)/messages", request.path)
            if request.method == "POST" and match and (channel_id is None or match.group(1) == channel_id):
                found.append(request.body)
        return found

    def followups(self) -> list[dict[str, Any]]:
        return [r.body for r in self.calls("POST", r"/webhooks/\d+/[^/]+")]

    # routes -------------------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.gateway_url})

    async def _gateway_bot(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
            }
        )

    async def _me(self, request: web.Request) -> web.Response:
        return json_response(self.bot_user)

    async def _application(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "id": self.application_id,
                "name": self.bot_user["username"],
                "icon": None,
                "description": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": {"id": snowflake(), "username": "owner", "discriminator": "0", "avatar": None},
                "verify_key": "0" * 64,
                "flags": 0,
                "team": None,
                "bot": self.bot_user,
            }
        )

    async def _bulk_commands(self, request: web.Request) -> web.Response:
        commands = await request.json()
        guild_id = request.match_info.get("guild")
        answer = [
            {
                **command,
                "id": snowflake(),
                "application_id": self.application_id,
                "version": snowflake(),
                "type": command.get("type", 1),
                "default_member_permissions": None,
                "nsfw": False,
                **({"guild_id": guild_id} if guild_id else {}),
            }
            for command in commands
        ]
        return json_response(answer)

    async def _channel(self, request: web.Request) -> web.Response:
        channel = self.channels.get(request.match_info["channel"])
        if channel is None:
            return json_response({"message": "Unknown Channel", "code": 10003}, 404)
        return json_response(channel)

    async def _create_message(self, request: web.Request) -> web.Response:
        recorded = self.requests[-1]  # the middleware parsed the body (JSON, or multipart with files)
        payload = recorded.body if recorded.body is not None else await request.json()
        channel_id = request.match_info["channel"]
        nonce = payload.get("nonce")
        if nonce and payload.get("enforce_nonce") and (channel_id, nonce) in self._nonces:
            return json_response(self._nonces[(channel_id, nonce)])
        message = self._bot_message(channel_id, payload)
        self.created_messages.append(message)
        if nonce:
            self._nonces[(channel_id, nonce)] = message
        if self.on_message_created is not None:
            await self.on_message_created(message)
        return json_response(message)

    async def _edit_message(self, request: web.Request) -> web.Response:
        payload = await request.json()
        for message in self.created_messages:
            if message["id"] == request.match_info["message"]:
                message["content"] = payload.get("content", message["content"])
                message["edited_timestamp"] = timestamp()
                return json_response(message)
        return json_response({"message": "Unknown Message", "code": 10008}, 404)

    async def _interaction_callback(self, request: web.Request) -> web.Response:
        interaction_id = request.match_info["interaction"]
        if interaction_id in self._acknowledged:
            return json_response({"message": "Interaction has already been acknowledged.", "code": 40060}, 400)
        self._acknowledged.add(interaction_id)
        payload = await request.json()
        data = payload.get("data") or {}
        return json_response(
            {
                "interaction": {
                    "id": interaction_id,
                    "type": 2,
                    "response_message_loading": payload["type"] == 5,
                    "response_message_ephemeral": bool(data.get("flags", 0) & 64),
                }
            }
        )

    async def _followup(self, request: web.Request) -> web.Response:
        payload = await request.json()
        message = self._bot_message(snowflake(), payload)
        message["webhook_id"] = self.application_id
        return json_response(message)

    async def _member(self, request: web.Request) -> web.Response:
        guild = next((g for g in self.guilds if g.guild_id == request.match_info["guild"]), None)
        member = guild.members.get(request.match_info["user"]) if guild else None
        if member is None:
            return json_response({"message": "Unknown Member", "code": 10007}, 404)
        if request.method == "PATCH":
            member.update(await request.json())
        return json_response(member)

    async def _no_content(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    def _bot_message(self, channel_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        message = {
            "id": snowflake(),
            "channel_id": channel_id,
            "author": self.bot_user,
            "content": payload.get("content", ""),
            "timestamp": timestamp(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": payload.get("flags", 0),
            "components": [],
            "nonce": payload.get("nonce"),
        }
        reference = payload.get("message_reference")
        if reference:
            message["type"] = 19
            message["message_reference"] = {"type": 0, "channel_id": channel_id, **reference}
        return message
