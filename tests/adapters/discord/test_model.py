"""One conversation with the real bundled model through discord.py and the fake Discord."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import BotApp
from bot.config import load_config
from bot.moderation.gate import GatePolicy, ModerationGate
from bot.store import SENT
from tests.adapters.discord.conftest import FakeDiscord, StartBot, eventually
from tests.support import write_config

pytestmark = pytest.mark.model


async def test_direct_message_is_answered_by_the_bundled_model(
    tmp_path: Path, start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    config = load_config(
        write_config(tmp_path, "[generation]\nmax_new_tokens = 24\n[discord]\nguild_ready_timeout_s = 0.05\n"),
        environ={},
    )
    app = BotApp.build(config, gate=ModerationGate(GatePolicy()))
    await app.start()
    try:
        bot = await start_bot(app=app)
        await fake_discord.post(fake_discord.alice, "What is the capital of France?", channel=fake_discord.alice_dm)
        sent = await eventually(lambda: fake_discord.rest.sent_messages(fake_discord.alice_dm["id"]), timeout=120)
        assert sent[0]["content"].strip()
        assert len(sent[0]["content"]) <= 2000 and sent[0]["allowed_mentions"]["parse"] == []
        assert fake_discord.rest.calls("POST", rf"/channels/{fake_discord.alice_dm['id']}/typing")
        await eventually(lambda: [r for r in bot.replies() if r.status == SENT and r.source == "lm"])
        await bot.adapter.stop()
    finally:
        await app.stop()
