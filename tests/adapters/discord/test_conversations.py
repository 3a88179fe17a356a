"""End to end through discord.py and the fake Discord: which messages are answered, where and how."""

from __future__ import annotations

import asyncio

import pytest

from bot.engine.fake import ScriptedEngine
from bot.store import ANSWERED, IGNORED, SENT
from tests.adapters.discord.conftest import FakeDiscord, StartBot, eventually


async def test_connects_with_message_content_intent_and_compressed_gateway(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    bot = await start_bot()
    identify = fake_discord.gateway.identifies[0]
    assert identify["intents"] & (1 << 15), "MESSAGE_CONTENT intent"
    assert not identify["intents"] & (1 << 1), "no privileged GUILD_MEMBERS intent"
    assert fake_discord.gateway.connections[0].query["compress"] == "zlib-stream"
    assert all(request.authorized for request in fake_discord.rest.requests)
    assert bot.app.senders["discord"].platform == "discord"


async def test_direct_message_is_answered_in_the_dm_with_typing_first(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    engine = ScriptedEngine(["Hello Alice!"])
    bot = await start_bot(engine=engine)
    dm = fake_discord.alice_dm
    question = await fake_discord.post(fake_discord.alice, "hi there", channel=dm)
    sent = await eventually(lambda: fake_discord.rest.sent_messages(dm["id"]))
    assert sent[0]["content"] == "Hello Alice!"
    assert str(sent[0]["message_reference"]["message_id"]) == question["id"]
    assert sent[0]["allowed_mentions"] == {"parse": [], "replied_user": True}
    paths = [r.path for r in fake_discord.rest.requests]
    assert paths.index(f"/channels/{dm['id']}/typing") < paths.index(f"/channels/{dm['id']}/messages")
    assert engine.requests[-1].messages[-1].content == "hi there"
    reply = await eventually(lambda: [r for r in bot.replies() if r.status == SENT])
    assert reply[0].platform_message_id  # recorded with Discord's id for the reply
    assert bot.stored(question["id"]).status == ANSWERED


async def test_guild_message_without_mention_is_stored_but_not_answered(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    engine = ScriptedEngine()
    bot = await start_bot(engine=engine)
    chatter = await fake_discord.post(fake_discord.alice, "just chatting with friends")
    stored = await eventually(lambda: bot.stored(chatter["id"]))
    await eventually(lambda: bot.stored(chatter["id"]).status == IGNORED)
    assert stored.text == "just chatting with friends"
    assert fake_discord.rest.sent_messages() == []
    assert engine.requests == []
    assert not fake_discord.rest.calls("POST", r"/channels/\d+/typing")


async def test_mention_is_answered_and_the_model_does_not_see_the_mention_markup(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    engine = ScriptedEngine(["Opening hours are 9 to 5."])
    await start_bot(engine=engine)
    await fake_discord.post(
        fake_discord.alice, f"{fake_discord.mention()} when are you open?", mentions=[fake_discord.bot_user]
    )
    sent = await eventually(lambda: fake_discord.rest.sent_messages(fake_discord.general["id"]))
    assert sent[0]["content"] == "Opening hours are 9 to 5."
    assert engine.requests[0].messages[-1].content == "when are you open?"


async def test_reply_to_the_bot_is_answered(start_bot: StartBot, fake_discord: FakeDiscord) -> None:
    await start_bot(engine=ScriptedEngine(["first", "second"]))
    await fake_discord.post(fake_discord.alice, f"{fake_discord.mention()} hi", mentions=[fake_discord.bot_user])
    bot_message = (await eventually(lambda: fake_discord.rest.created_messages))[0]
    await fake_discord.post(fake_discord.alice, "and then?", referenced=bot_message)
    sent = await eventually(lambda: len(fake_discord.rest.sent_messages()) == 2 and fake_discord.rest.sent_messages())
    assert sent[1]["content"] == "second"


async def test_thread_is_a_separate_conversation_answered_in_the_thread(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    bot = await start_bot(engine=ScriptedEngine(["in the thread"]))
    thread = fake_discord.thread
    question = await fake_discord.post(
        fake_discord.alice, f"{fake_discord.mention()} hi", channel=thread, mentions=[fake_discord.bot_user]
    )
    await eventually(lambda: fake_discord.rest.sent_messages(thread["id"]))
    key = bot.app.store.conversation_key(bot.stored(question["id"]).conversation_id)
    assert (key.platform, key.chat_id, key.thread_id) == ("discord", fake_discord.general["id"], thread["id"])


async def test_long_reply_is_sent_as_ordered_chunks_of_at_most_2000_characters(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    sentences = [f"Sentence number {index:04d} of the long answer." for index in range(130)]
    long_reply = " ".join(sentences)
    assert len(long_reply) > 5000
    await start_bot(engine=ScriptedEngine([long_reply]), config_text="[generation]\nmax_new_tokens = 4096\n")
    await fake_discord.post(fake_discord.alice, "tell me everything", channel=fake_discord.alice_dm)
    sent = await eventually(lambda: len(fake_discord.rest.sent_messages()) >= 3 and fake_discord.rest.sent_messages())
    await asyncio.sleep(0.1)
    chunks = [message["content"] for message in fake_discord.rest.sent_messages()]
    assert len(chunks) == 3
    assert all(len(chunk) <= 2000 for chunk in chunks)
    assert " ".join(chunks) == long_reply
    assert "message_reference" in sent[0] and all("message_reference" not in m for m in sent[1:])
    assert all(m["allowed_mentions"]["parse"] == [] for m in sent)


async def test_model_output_with_everyone_is_sent_with_mentions_that_cannot_ping(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    await start_bot(engine=ScriptedEngine(["Hey @everyone and @here, look at <@&123> and <@456>!"]))
    await fake_discord.post(
        fake_discord.alice, f"{fake_discord.mention()} announce it", mentions=[fake_discord.bot_user]
    )
    sent = await eventually(lambda: fake_discord.rest.sent_messages())
    assert sent[0]["allowed_mentions"]["parse"] == []  # whatever the gate left of the text
    assert "users" not in sent[0]["allowed_mentions"] and "roles" not in sent[0]["allowed_mentions"]


@pytest.mark.parametrize("mode", ["mention", "always"])
async def test_channel_outside_allowed_channels_stores_mentions_without_answering(
    start_bot: StartBot, fake_discord: FakeDiscord, mode: str
) -> None:
    allowed = f'allowed_channels = {{ "{fake_discord.guild.guild_id}" = [{fake_discord.random["id"]}] }}'
    engine = ScriptedEngine(["answer"])
    bot = await start_bot(discord_settings=f'{allowed}\nguild_reply_mode = "{mode}"', engine=engine)
    ignored = await fake_discord.post(
        fake_discord.alice, f"{fake_discord.mention()} hi", mentions=[fake_discord.bot_user]
    )
    await eventually(lambda: bot.stored(ignored["id"]) and bot.stored(ignored["id"]).status == IGNORED)
    await fake_discord.post(
        fake_discord.alice,
        f"{fake_discord.mention()} hi",
        channel=fake_discord.random,
        mentions=[fake_discord.bot_user],
    )
    sent = await eventually(lambda: fake_discord.rest.sent_messages())
    assert list(fake_discord.rest.sent_messages(fake_discord.random["id"])) == sent
    assert len(engine.requests) == 1


async def test_messages_from_other_bots_are_stored_as_bot_messages_and_never_answered(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    engine = ScriptedEngine()
    bot = await start_bot(engine=engine)
    other_bot = {**fake_discord.alice, "id": "777", "username": "otherbot", "bot": True}
    message = await fake_discord.post(other_bot, "hello @socialbot", channel=fake_discord.alice_dm)
    await eventually(lambda: bot.stored(message["id"]) and bot.stored(message["id"]).status == IGNORED)
    assert engine.requests == [] and fake_discord.rest.sent_messages() == []


async def test_edited_message_updates_the_stored_text(start_bot: StartBot, fake_discord: FakeDiscord) -> None:
    bot = await start_bot()
    original = await fake_discord.post(fake_discord.alice, "helo")
    await eventually(lambda: bot.stored(original["id"]))
    edited = {**original, "content": "hello", "edited_timestamp": original["timestamp"]}
    await fake_discord.gateway.dispatch("MESSAGE_UPDATE", edited)
    await eventually(lambda: bot.stored(original["id"]).text == "hello")
    assert fake_discord.rest.sent_messages() == []
