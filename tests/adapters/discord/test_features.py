"""Features end to end on the fake Discord: auto-reply rules managed by slash command, human handoff."""

from __future__ import annotations

from bot.engine.fake import ScriptedEngine
from tests.adapters.discord.conftest import FakeDiscord, StartBot, eventually


async def test_admin_adds_a_rule_by_slash_command_a_member_may_not_and_the_rule_answers(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    engine = ScriptedEngine(default_reply="model reply")
    await start_bot(engine=engine)
    rest = fake_discord.rest
    rule = 'add keyword "opening hours" -> We are open 9-17, {user}.'

    await fake_discord.slash(fake_discord.alice, "rules", rule)
    refused = await eventually(lambda: rest.followups())
    assert refused[0]["content"] == "Only admins can use /rules."

    await fake_discord.slash(fake_discord.admin, "rules", rule)
    added = await eventually(lambda: rest.followups()[1:])
    assert "rule" in added[0]["content"].lower() and "#1" in added[0]["content"]

    await fake_discord.post(fake_discord.alice, f"{fake_discord.mention()} what are your opening hours?")
    answer = await eventually(lambda: [m for m in rest.sent_messages(fake_discord.general["id"])])
    assert answer[0]["content"] == "We are open 9-17, alice."
    assert engine.requests == []  # answered by the rule, not the model


async def test_handoff_cycle_notifies_the_staff_channel_keeps_quiet_and_resumes(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    staff_channel = fake_discord.random["id"]
    engine = ScriptedEngine(default_reply="How can I help?")
    await start_bot(engine=engine, config_text=f'[kb]\nstaff_platform = "discord"\nstaff_chat_id = "{staff_channel}"\n')
    rest, dm = fake_discord.rest, fake_discord.alice_dm

    await fake_discord.post(fake_discord.alice, "/human my parcel never arrived", channel=dm)
    notice = await eventually(lambda: rest.sent_messages(staff_channel))
    assert "New ticket #1" in notice[0]["content"] and "my parcel never arrived" in notice[0]["content"]
    opened = await eventually(lambda: rest.sent_messages(dm["id"]))
    assert "ticket #1" in opened[0]["content"]

    await fake_discord.post(fake_discord.alice, "hello? anyone?", channel=dm)
    forwarded = await eventually(lambda: rest.sent_messages(staff_channel)[1:])
    assert forwarded[0]["content"] == "[ticket #1] alice: hello? anyone?"
    assert len(rest.sent_messages(dm["id"])) == 1  # the bot stays quiet with the customer

    await fake_discord.post(fake_discord.admin, "/ticket close 1", channel=fake_discord.random)
    told = await eventually(lambda: rest.sent_messages(dm["id"])[1:])
    assert "Ticket #1 is closed" in told[0]["content"]

    await fake_discord.post(fake_discord.alice, "are you back?", channel=dm)
    resumed = await eventually(lambda: rest.sent_messages(dm["id"])[2:])
    assert resumed[0]["content"] == "How can I help?"
