"""A fake Discord (gateway + REST on one 127.0.0.1 port) and a bot connected to it with the real discord.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import pytest
import yarl
from aiohttp import web
from discord.gateway import DiscordWebSocket

from adapters.discord import DiscordAdapter
from bot.app import BotApp
from bot.engine.base import Engine
from bot.store import StoredMessage
from tests.fakes.discord_gateway import (
    EVERYONE_PERMISSIONS,
    MANAGE_GUILD,
    FakeGateway,
    FakeGuild,
    dm_channel_payload,
    interaction_payload,
    member_payload,
    message_payload,
    role_payload,
    snowflake,
    text_channel_payload,
    thread_payload,
    user_payload,
)
from tests.fakes.discord_rest import FakeDiscordRest
from tests.support import build_test_app

TOKEN = "fake-token.for-tests.only"


async def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll `check` until it returns something truthy; fails the test after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.01)


@dataclass
class FakeDiscord:
    """One guild with #general, #random and a thread, an owner, an admin, a moderator role, a member and a bot."""

    gateway: FakeGateway
    rest: FakeDiscordRest
    guild: FakeGuild
    bot_user: dict[str, Any]
    application_id: str
    alice: dict[str, Any]  # a regular member
    admin: dict[str, Any]  # has Manage Server through the "Staff" role
    moderator: dict[str, Any]  # has the "Moderators" role (no Manage Server)
    general: dict[str, Any]
    random: dict[str, Any]
    thread: dict[str, Any]
    alice_dm: dict[str, Any]
    base_url: str = ""

    async def post(
        self, author: dict[str, Any], content: str, channel: dict[str, Any] | None = None, **options: Any
    ) -> dict[str, Any]:
        """A user posts a message: dispatched as MESSAGE_CREATE; returns the payload."""
        channel = channel or self.general
        guild = self.guild if channel.get("guild_id") else None
        payload = message_payload(channel["id"], author, content, guild=guild, **options)
        await self.gateway.dispatch("MESSAGE_CREATE", payload)
        return payload

    async def slash(
        self, user: dict[str, Any], command: str, args: str = "", channel: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        channel = channel or self.general
        guild = self.guild if channel.get("guild_id") else None
        payload = interaction_payload(self.application_id, command, args, channel, user, guild)
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        return payload

    def mention(self) -> str:
        return f"<@{self.bot_user['id']}>"


def build_world() -> FakeDiscord:
    application_id = snowflake()
    bot_user = user_payload(application_id, "socialbot", bot=True)
    owner, alice = user_payload(snowflake(), "owner"), user_payload(snowflake(), "alice")
    admin, moderator = user_payload(snowflake(), "admin"), user_payload(snowflake(), "moddy")
    guild_id = snowflake()
    staff_role, moderator_role = snowflake(), snowflake()
    guild = FakeGuild(guild_id=guild_id, owner_id=owner["id"])
    guild.roles = [
        role_payload(guild_id, "@everyone", EVERYONE_PERMISSIONS, 0),
        role_payload(staff_role, "Staff", MANAGE_GUILD, 2),
        role_payload(moderator_role, "Moderators", 0, 1),
    ]
    general = text_channel_payload(snowflake(), guild_id, "general")
    random = text_channel_payload(snowflake(), guild_id, "random")
    thread = thread_payload(snowflake(), general["id"], guild_id, alice["id"], "a thread")
    guild.channels, guild.threads = [general, random], [thread]
    for user, roles in ((bot_user, []), (owner, []), (alice, []), (admin, [staff_role]), (moderator, [moderator_role])):
        guild.members[user["id"]] = member_payload(roles, user=user)
    alice_dm = dm_channel_payload(snowflake(), alice)
    gateway = FakeGateway(bot_user, application_id, [guild])
    rest = FakeDiscordRest(
        TOKEN, bot_user, application_id, [guild], channels={c["id"]: c for c in (general, random, thread, alice_dm)}
    )
    return FakeDiscord(
        gateway, rest, guild, bot_user, application_id, alice, admin, moderator, general, random, thread, alice_dm
    )


@pytest.fixture
async def fake_discord(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    """The fake Discord served on 127.0.0.1, with discord.py pointed at it (restored afterwards)."""
    world = build_world()
    web_app = web.Application(middlewares=[world.rest.middleware])
    web_app.add_routes(world.gateway.routes() + world.rest.routes())
    runner = web.AppRunner(web_app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    world.base_url = f"http://127.0.0.1:{port}"
    world.gateway.base_ws_url = f"ws://127.0.0.1:{port}"
    world.rest.gateway_url = world.gateway.base_ws_url + FakeGateway.PATH

    async def echo(message: dict[str, Any]) -> None:  # Discord sends the bot its own messages too
        channel = world.rest.channels.get(message["channel_id"], {})
        if channel.get("guild_id"):
            message = {**message, "guild_id": channel["guild_id"]}
        await world.gateway.dispatch("MESSAGE_CREATE", message)

    world.rest.on_message_created = echo
    monkeypatch.setattr(discord.http.Route, "BASE", world.base_url + "/api/v10")
    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(world.gateway.base_ws_url + FakeGateway.PATH))
    yield world
    await runner.cleanup()


@dataclass
class RunningBot:
    app: BotApp
    adapter: DiscordAdapter
    world: FakeDiscord
    _stops: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def stored(self, platform_message_id: str) -> StoredMessage | None:
        rows = list(
            self.app.store.db.query("select * from messages where platform_message_id = ?", [platform_message_id])
        )
        return StoredMessage.from_row(rows[0]) if rows else None

    def replies(self) -> list[StoredMessage]:
        rows = self.app.store.db.query("select * from messages where role = 'assistant' order by id")
        return [StoredMessage.from_row(row) for row in rows]


StartBot = Callable[..., Awaitable[RunningBot]]


@pytest.fixture
async def start_bot(tmp_path: Path, fake_discord: FakeDiscord) -> AsyncIterator[StartBot]:
    """Start a bot (scripted engine unless given) connected to the fake Discord; stopped after the test."""
    running: list[RunningBot] = []

    async def start(
        discord_settings: str = "",
        config_text: str = "",
        engine: Engine | None = None,
        app: BotApp | None = None,
        prepare: Callable[[BotApp], None] | None = None,
        bot_settings: str = "",
    ) -> RunningBot:
        # write_config opens the file with [bot]: `bot_settings` lines land in that section.
        config = f"{bot_settings}\n[discord]\nguild_ready_timeout_s = 0.05\n{discord_settings}\n{config_text}"
        bot_app = app or build_test_app(tmp_path, engine=engine, config_text=config)
        if prepare is not None:
            prepare(bot_app)
        if app is None:
            await bot_app.start()
        adapter = DiscordAdapter(bot_app.platform_context(), TOKEN, ready_timeout_s=10)
        await adapter.start()
        bot = RunningBot(bot_app, adapter, fake_discord)
        bot._stops.append(adapter.stop)
        if app is None:
            bot._stops.append(bot_app.stop)
        running.append(bot)
        return bot

    yield start
    for bot in running:
        for stop in bot._stops:
            await stop()
