"""Long-term memory on the fake Discord: a fact told in a channel answers a later follow-up there, and is
never shown in another chat (here: the member's DM) or to another member."""

from __future__ import annotations

import json

from bot.engine.fake import ScriptedEngine
from tests.adapters.discord.conftest import FakeDiscord, StartBot, eventually


async def test_a_fact_told_in_a_channel_is_recalled_there_and_nowhere_else(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    await start_bot(engine=ScriptedEngine(default_reply="model reply"))
    rest, general, dm = fake_discord.rest, fake_discord.general["id"], fake_discord.alice_dm
    mention, bot_user = fake_discord.mention(), fake_discord.bot_user

    await fake_discord.post(fake_discord.alice, f"{mention} My order number is A-48213", mentions=[bot_user])
    await eventually(lambda: rest.sent_messages(general))
    await fake_discord.post(fake_discord.alice, f"{mention} What was my order number?", mentions=[bot_user])
    recalled = await eventually(lambda: rest.sent_messages(general)[1:])
    assert recalled[0]["content"].startswith("Your order number is A-48213 (you told me on ")

    await fake_discord.post(fake_discord.admin, f"{mention} What was my order number?", mentions=[bot_user])
    other_member = await eventually(lambda: rest.sent_messages(general)[2:])
    await fake_discord.post(fake_discord.alice, "What was my order number?", channel=dm)
    elsewhere = await eventually(lambda: rest.sent_messages(dm["id"]))
    assert "A-48213" not in other_member[0]["content"] + elsewhere[0]["content"]
    assert "haven't told me your order number" in elsewhere[0]["content"]


async def test_export_in_a_dm_arrives_as_a_json_attachment(start_bot: StartBot, fake_discord: FakeDiscord) -> None:
    await start_bot(engine=ScriptedEngine(default_reply="model reply"))
    rest, dm = fake_discord.rest, fake_discord.alice_dm
    await fake_discord.post(fake_discord.alice, "My name is Alicia", channel=dm)
    await eventually(lambda: rest.sent_messages(dm["id"]))
    await fake_discord.post(fake_discord.alice, "/export", channel=dm)
    uploads = await eventually(lambda: rest.uploads)
    path, filename, data = uploads[0]
    assert path == f"/channels/{dm['id']}/messages"
    assert filename == f"socialbot-export-discord-{fake_discord.alice['id']}.json"
    assert [row["value"] for row in json.loads(data)["tables"]["memory_facts"]] == ["Alicia"]
    assert "data export" in rest.sent_messages(dm["id"])[-1]["content"]
