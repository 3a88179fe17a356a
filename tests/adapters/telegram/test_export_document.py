"""Memory and /export on the fake Telegram: a follow-up answered from memory, then the member's data arrives
as a JSON document (sendDocument) in their private chat."""

from __future__ import annotations

import json
from pathlib import Path

from adapters.telegram import create_adapter
from bot.engine.fake import ScriptedEngine
from tests.adapters.telegram.conftest import telegram_config
from tests.fakes.telegram_api import FakeTelegramServer
from tests.support import build_test_app


async def test_export_is_sent_as_a_json_document_in_the_private_chat(
    tmp_path: Path, telegram_server: FakeTelegramServer
) -> None:
    app = build_test_app(
        tmp_path,
        engine=ScriptedEngine(default_reply="ok"),
        config_text=telegram_config(telegram_server),
        environ={"TELEGRAM_BOT_TOKEN": telegram_server.token},
    )
    await app.start()
    adapter = create_adapter(app.platform_context())
    await adapter.start()
    try:
        await telegram_server.push_message("My order number is A-48213", chat_id=555, user_id=555)
        await telegram_server.wait_for(lambda: len(telegram_server.replies_to(555)) == 1)
        await telegram_server.push_message("What was my order number?", chat_id=555, user_id=555)
        await telegram_server.wait_for(lambda: len(telegram_server.replies_to(555)) == 2)
        assert telegram_server.replies_to(555)[1].text.startswith("Your order number is A-48213")
        await telegram_server.push_message("/export", chat_id=555, user_id=555)
        await telegram_server.wait_for(lambda: len(telegram_server.state.documents) == 1)
        chat_id, filename, data, caption = telegram_server.state.documents[0]
        assert (chat_id, filename) == (555, "socialbot-export-telegram-555.json")
        exported = json.loads(data)
        assert [row["value"] for row in exported["tables"]["memory_facts"]] == ["A-48213"]
        assert "data export" in caption
    finally:
        await adapter.stop()
        await app.stop()
