"""Slash commands: registered from the command registry, answered through the manager, admin-checked."""

from __future__ import annotations

from bot.app import BotApp
from bot.routing import Command, TurnContext
from tests.adapters.discord.conftest import FakeDiscord, StartBot, eventually


async def purge(turn: TurnContext, args: str) -> str:
    return f"purged {args or 'nothing'}"


def add_purge(bot_app: BotApp) -> None:
    bot_app.commands.add(Command("purge", "remove old messages", purge, admin_only=True, usage="how many"))


async def test_every_command_is_synced_as_a_slash_command_with_one_optional_args_option(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    bot = await start_bot()
    (sync,) = fake_discord.rest.calls("PUT", rf"/applications/{fake_discord.application_id}/commands")
    names = {command["name"] for command in sync.body}
    assert names == {command.name for command in bot.app.commands.all()} == set(bot.adapter.slash_commands)
    for command in sync.body:
        assert command["options"] == [
            {"type": 3, "name": "args", "description": command["options"][0]["description"], "required": False}
        ]


async def test_commands_sync_per_guild_when_configured(start_bot: StartBot, fake_discord: FakeDiscord) -> None:
    guild_id = fake_discord.guild.guild_id
    await start_bot(discord_settings=f'sync_commands = "guild"\ncommand_guild_ids = [{guild_id}]')
    assert fake_discord.rest.calls("PUT", rf"/applications/\d+/guilds/{guild_id}/commands")
    assert not fake_discord.rest.calls("PUT", r"/applications/\d+/commands")


async def test_slash_command_is_deferred_then_answered_with_a_followup(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    bot = await start_bot()
    interaction = await fake_discord.slash(fake_discord.alice, "about")
    followups = await eventually(lambda: fake_discord.rest.followups())
    (callback,) = fake_discord.rest.calls("POST", rf"/interactions/{interaction['id']}/[^/]+/callback")
    assert callback.body["type"] == 5  # deferred: "socialbot is thinking…"
    assert "socialbot" in followups[0]["content"]
    assert followups[0]["allowed_mentions"]["parse"] == []
    stored = await eventually(lambda: bot.stored(interaction["id"]))
    assert stored.text == "/about"


async def test_admin_command_from_a_regular_member_is_refused(start_bot: StartBot, fake_discord: FakeDiscord) -> None:
    bot = await start_bot(prepare=add_purge)
    interaction = await fake_discord.slash(fake_discord.alice, "purge", "10")
    followups = await eventually(lambda: fake_discord.rest.followups())
    assert followups[0]["content"] == "Only admins can use /purge."
    assert bot.stored(interaction["id"]).text == "/purge 10"


async def test_admin_command_from_a_member_with_manage_server_is_allowed(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    await start_bot(prepare=add_purge)
    await fake_discord.slash(fake_discord.admin, "purge", "10")
    followups = await eventually(lambda: fake_discord.rest.followups())
    assert followups[0]["content"] == "purged 10"


async def test_admin_command_from_the_configured_admin_role_is_allowed(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    await start_bot(discord_settings='admin_role = "Moderators"', prepare=add_purge)
    await fake_discord.slash(fake_discord.moderator, "purge")
    followups = await eventually(lambda: fake_discord.rest.followups())
    assert followups[0]["content"] == "purged nothing"


async def test_admin_command_in_a_dm_from_a_configured_admin_user_is_allowed(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    alice_id = fake_discord.alice["id"]
    await start_bot(bot_settings=f'admin_user_ids = ["discord:{alice_id}"]', prepare=add_purge)
    await fake_discord.slash(fake_discord.alice, "purge", "all", channel=fake_discord.alice_dm)
    followups = await eventually(lambda: fake_discord.rest.followups())
    assert followups[0]["content"] == "purged all"


async def test_replayed_interaction_is_answered_once(start_bot: StartBot, fake_discord: FakeDiscord) -> None:
    await start_bot()
    interaction = await fake_discord.slash(fake_discord.alice, "help")
    await eventually(lambda: fake_discord.rest.followups())
    await fake_discord.gateway.dispatch("INTERACTION_CREATE", interaction)
    await eventually(lambda: len(fake_discord.rest.calls("POST", r"/interactions/.*")) == 2)
    await fake_discord.slash(fake_discord.alice, "about")
    await eventually(lambda: len(fake_discord.rest.followups()) == 2)
    assert len(fake_discord.rest.followups()) == 2


async def test_slash_command_in_a_channel_where_the_bot_may_not_speak_is_answered_privately(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    allowed = f'allowed_channels = {{ "{fake_discord.guild.guild_id}" = [{fake_discord.random["id"]}] }}'
    await start_bot(discord_settings=allowed)
    await fake_discord.slash(fake_discord.alice, "help")
    followups = await eventually(lambda: fake_discord.rest.followups())
    assert followups[0]["flags"] & 64  # ephemeral
