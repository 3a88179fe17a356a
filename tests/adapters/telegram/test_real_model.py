"""A direct message on Telegram answered by the real bundled model, end to end through the fake Bot API."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.telegram import create_adapter
from bot.app import BotApp
from bot.config import load_config
from bot.messages import ConversationKey
from bot.moderation.gate import GatePolicy, ModerationGate
from tests.adapters.telegram.conftest import telegram_config
from tests.fakes.telegram_api import FakeTelegramServer
from tests.support import write_config

pytestmark = pytest.mark.model


async def test_direct_message_gets_a_non_empty_model_reply_that_is_stored(
    tmp_path: Path, telegram_server: FakeTelegramServer
) -> None:
    text = telegram_config(telegram_server, extra="[generation]\nmax_new_tokens = 24")
    config = load_config(write_config(tmp_path, text), environ={"TELEGRAM_BOT_TOKEN": telegram_server.token})
    app = BotApp.build(config, gate=ModerationGate(GatePolicy()), features=[])
    async with app, create_adapter(app.platform_context()):
        _, message_id = await telegram_server.push_message("Hello! What can you do for me?")
        conversation = app.store.conversation_id(ConversationKey("telegram", "111"))
        # Sent on the wire first, recorded as sent just after: wait for the record.
        await telegram_server.wait_for(
            lambda: [row.status for row in app.store.messages_for(conversation)][-1:] == ["sent"], timeout=120
        )
        rows = app.store.messages_for(conversation)
    [reply] = telegram_server.state.sent
    assert reply.text.strip() and reply.reply_to_message_id == message_id
    assert [(row.role, row.status) for row in rows] == [("user", "answered"), ("assistant", "sent")]
    assert rows[1].text == reply.text and rows[1].source == "lm"
