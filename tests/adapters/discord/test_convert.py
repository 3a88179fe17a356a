"""The pure translation from discord.py objects (parsed from Discord payloads) to IncomingMessage."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import discord
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.discord.convert import DiscordAccess, command_text, conversation_key, to_incoming
from bot.addressing import addressed_by_default
from tests.adapters.discord.conftest import FakeDiscord, build_world
from tests.fakes.discord_gateway import message_payload, user_payload


@pytest.fixture(scope="module")
def world() -> FakeDiscord:
    return build_world()


@pytest.fixture(scope="module")
def state(world: FakeDiscord) -> Iterator[Any]:
    """discord.py's connection state holding the fake guild, as it would after GUILD_CREATE."""
    client = discord.Client(intents=discord.Intents.default())
    connection = client._connection
    connection._add_guild_from_data(world.guild.create_payload())
    yield connection


def parse(state: Any, payload: dict[str, Any]) -> discord.Message:
    guild = state._get_guild(int(payload["guild_id"])) if payload.get("guild_id") else None
    channel_id = int(payload["channel_id"])
    channel = guild.get_channel_or_thread(channel_id) if guild else state._get_private_channel(channel_id)
    if channel is None:
        channel = discord.DMChannel._from_message(state, channel_id)
    return discord.Message(state=state, channel=channel, data=payload)


def incoming_for(
    world: FakeDiscord,
    state: Any,
    author: dict[str, Any],
    text: str,
    channel: dict[str, Any] | None = None,
    access: DiscordAccess | None = None,
    **options: Any,
) -> Any:
    channel = channel or world.general
    guild = world.guild if channel.get("guild_id") else None
    message = parse(state, message_payload(channel["id"], author, text, guild=guild, **options))
    return to_incoming(message, int(world.bot_user["id"]), access or DiscordAccess())


def test_dm_is_direct_and_its_own_conversation(world: FakeDiscord, state: Any) -> None:
    incoming = incoming_for(world, state, world.alice, "hi", channel=world.alice_dm)
    assert incoming.is_direct and incoming.is_addressed_to_bot
    assert incoming.conversation.chat_id == world.alice_dm["id"] and incoming.conversation.thread_id == ""


def test_guild_message_is_addressed_only_when_the_bot_is_mentioned(world: FakeDiscord, state: Any) -> None:
    assert not incoming_for(world, state, world.alice, "hello all").is_addressed_to_bot
    mentioned = incoming_for(
        world,
        state,
        world.alice,
        f"<@{world.bot_user['id']}> hi <@{world.admin['id']}>",
        mentions=[world.bot_user, world.admin],
    )
    assert mentioned.mentions_bot and mentioned.text == "hi @admin"


def test_bot_own_messages_and_system_messages_are_dropped(world: FakeDiscord, state: Any) -> None:
    assert incoming_for(world, state, world.bot_user, "my own reply") is None
    payload = message_payload(world.general["id"], world.alice, "", guild=world.guild)
    payload["type"] = 7  # member joined
    assert to_incoming(parse(state, payload), int(world.bot_user["id"]), DiscordAccess()) is None


def test_thread_messages_belong_to_the_thread_inside_its_parent(world: FakeDiscord, state: Any) -> None:
    incoming = incoming_for(world, state, world.alice, "in thread", channel=world.thread)
    assert (incoming.conversation.chat_id, incoming.conversation.thread_id) == (world.general["id"], world.thread["id"])
    assert conversation_key(state._get_guild(int(world.guild.guild_id)).get_channel(int(world.general["id"]))) == (
        incoming.conversation.__class__("discord", world.general["id"])
    )


def test_admin_is_manage_server_owner_admin_role_or_configured_user(world: FakeDiscord, state: Any) -> None:
    assert not incoming_for(world, state, world.alice, "x").author_is_admin
    assert incoming_for(world, state, world.admin, "x").author_is_admin
    owner = world.guild.members[world.guild.owner_id]["user"]
    assert incoming_for(world, state, owner, "x").author_is_admin
    assert not incoming_for(world, state, world.moderator, "x").author_is_admin
    assert incoming_for(
        world, state, world.moderator, "x", access=DiscordAccess(admin_role="Moderators")
    ).author_is_admin
    configured = DiscordAccess(admin_user_ids=frozenset({world.alice["id"]}))
    assert incoming_for(world, state, world.alice, "x", channel=world.alice_dm, access=configured).author_is_admin


def test_allowed_channels_decide_where_the_bot_may_reply_and_reply_modes_are_the_managers(
    world: FakeDiscord, state: Any
) -> None:
    mention = f"<@{world.bot_user['id']}> hi"
    guild_id = int(world.guild.guild_id)
    only_random = DiscordAccess(allowed_channels={guild_id: frozenset({int(world.random["id"])})})
    elsewhere = incoming_for(world, state, world.alice, mention, access=only_random, mentions=[world.bot_user])
    assert elsewhere.is_addressed_to_bot and not elsewhere.may_reply
    for mode in ("mention", "always"):
        assert not addressed_by_default(elsewhere, {"discord": mode}), "never answered where it may not speak"
    only_general = DiscordAccess(allowed_channels={guild_id: frozenset({int(world.general["id"])})})
    in_thread = incoming_for(
        world, state, world.alice, mention, channel=world.thread, access=only_general, mentions=[world.bot_user]
    )
    assert in_thread.may_reply and addressed_by_default(in_thread, {}), "threads follow their parent channel"
    mentioned = incoming_for(world, state, world.alice, mention, mentions=[world.bot_user])
    unmentioned = incoming_for(world, state, world.alice, "no mention")
    assert not addressed_by_default(mentioned, {"discord": "silent"})
    assert not addressed_by_default(unmentioned, {"discord": "mention"})
    assert addressed_by_default(unmentioned, {"discord": "always"})


def test_webhook_messages_count_as_bot_messages(world: FakeDiscord, state: Any) -> None:
    payload = message_payload(world.general["id"], user_payload("555", "hook"), "relay", guild=world.guild)
    payload["webhook_id"] = "555"
    incoming = to_incoming(parse(state, payload), int(world.bot_user["id"]), DiscordAccess())
    assert incoming is not None and incoming.author.is_bot


def test_command_text_is_slash_name_and_args() -> None:
    assert command_text("help", "") == "/help"
    assert command_text("purge", "  10 ") == "/purge 10"


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=3000))
def test_any_message_text_translates_without_error(world: FakeDiscord, state: Any, text: str) -> None:
    incoming = incoming_for(world, state, world.alice, text, channel=world.alice_dm)
    assert incoming is not None and f"<@{world.bot_user['id']}>" not in incoming.text
