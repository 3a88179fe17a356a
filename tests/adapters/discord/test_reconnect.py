"""Connection drops: discord.py resumes the session, and the bot answers each message exactly once."""

from __future__ import annotations

import logging

import pytest

from bot.engine.fake import ScriptedEngine
from tests.adapters.discord.conftest import FakeDiscord, StartBot, eventually
from tests.fakes.discord_gateway import FakeGateway


async def test_replayed_message_after_resume_is_answered_once(
    start_bot: StartBot, fake_discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.manager")
    engine = ScriptedEngine(["the answer", "a second answer"])
    await start_bot(engine=engine)
    gateway = fake_discord.gateway
    question = await fake_discord.post(fake_discord.alice, "question?", channel=fake_discord.alice_dm)
    await eventually(lambda: fake_discord.rest.sent_messages())
    question_seq = next(
        seq
        for seq, event, data in gateway._require_session().events
        if event == "MESSAGE_CREATE" and data["id"] == question["id"]
    )

    await gateway.drop(code=4000, replay_from=question_seq)
    await gateway.wait_for(lambda: len(gateway.resumes) == 1 and len(gateway.connections) == 2)
    await eventually(lambda: any(event == "RESUMED" for _, event, _ in gateway._require_session().events))
    await fake_discord.post(fake_discord.alice, "still there?", channel=fake_discord.alice_dm)
    await eventually(lambda: len(fake_discord.rest.sent_messages()) == 2)

    assert [m["content"] for m in fake_discord.rest.sent_messages()] == ["the answer", "a second answer"]
    assert len(engine.requests) == 2
    assert f"duplicate message {question['id']} ignored" in caplog.text, "the replay did reach the bot"
    assert len(gateway.identifies) == 1, "resumed, not re-identified"
    assert gateway.resumes[0]["session_id"] == gateway.session_id
    assert gateway.connections[1].path == FakeGateway.RESUME_PATH, "reconnected to resume_gateway_url"


async def test_message_sent_while_disconnected_is_delivered_on_resume_and_answered(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    engine = ScriptedEngine(["caught up"])
    await start_bot(engine=engine)
    gateway = fake_discord.gateway
    await gateway.drop(code=4000)
    await fake_discord.post(fake_discord.alice, "are you there?", channel=fake_discord.alice_dm)
    sent = await eventually(lambda: fake_discord.rest.sent_messages(), timeout=10)
    assert sent[0]["content"] == "caught up"
    assert len(gateway.identifies) == 1 and len(gateway.resumes) == 1
