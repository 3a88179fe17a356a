"""Webhook mode: Telegram posts updates to the bot's server, which checks the secret token on every request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from adapters.telegram import TelegramAdapter, create_adapter
from adapters.telegram.webhook import SECRET_HEADER, webhook_secret
from bot.app import BotApp
from tests.adapters.telegram.conftest import HoldingEngine, build_bot
from tests.fakes.telegram_api import FakeTelegramServer

WEBHOOK = {
    "mode": "webhook",
    "webhook_listen": "127.0.0.1",
    "webhook_port": 0,
    "webhook_path": "/telegram",
    "webhook_url": "https://bot.example.org/telegram",
}


def update(update_id: int, text: str) -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "text": text,
            "chat": {"id": 111, "type": "private", "first_name": "Alice"},
            "from": {"id": 111, "is_bot": False, "first_name": "Alice"},
        },
    }


@pytest.fixture
async def webhook_app(tmp_path: Path, telegram_server: FakeTelegramServer) -> AsyncIterator[BotApp]:
    async with build_bot(tmp_path, telegram_server, settings=WEBHOOK) as app:
        yield app


@pytest.fixture
async def webhook_adapter(webhook_app: BotApp) -> AsyncIterator[TelegramAdapter]:
    """The adapter as `socialbot run` builds it: given only the bot's platform context."""
    async with create_adapter(webhook_app.platform_context()) as adapter:
        yield adapter


async def post(adapter: TelegramAdapter, body: object, secret: str | None) -> int:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    url = f"http://127.0.0.1:{adapter.webhook_port}/telegram"
    async with aiohttp.ClientSession() as session, session.post(url, json=body, headers=headers) as response:
        return response.status


async def test_webhook_is_registered_with_a_secret_derived_from_the_token(
    webhook_adapter: TelegramAdapter, telegram_server: FakeTelegramServer
) -> None:
    [registered] = telegram_server.state.webhooks
    assert registered["url"] == "https://bot.example.org/telegram"
    assert registered["secret_token"] == webhook_secret(telegram_server.token)
    assert telegram_server.token not in registered["secret_token"]
    assert "getUpdates" not in telegram_server.state.calls


async def test_request_without_the_secret_is_refused_and_not_handled(
    webhook_adapter: TelegramAdapter, telegram_server: FakeTelegramServer
) -> None:
    assert await post(webhook_adapter, update(1, "hi"), None) == 403
    assert await post(webhook_adapter, update(1, "hi"), "guess") == 403
    assert telegram_server.state.sent == []


async def test_update_with_the_secret_is_stored_before_the_request_returns_and_answered_only_once(
    webhook_app: BotApp, webhook_adapter: TelegramAdapter, telegram_server: FakeTelegramServer
) -> None:
    secret = webhook_secret(telegram_server.token)
    assert await post(webhook_adapter, update(7, "hello"), secret) == 200
    stored = webhook_app.store.db.query("select text from messages where role = 'user'")
    assert [row["text"] for row in stored] == ["hello"]
    await telegram_server.wait_for(lambda: telegram_server.state.sent)
    assert [message.reply_to_message_id for message in telegram_server.state.sent] == [7]
    assert await post(webhook_adapter, update(7, "hello"), secret) == 200  # Telegram re-sent it
    await asyncio.sleep(0.2)
    assert len(telegram_server.state.sent) == 1


async def test_body_that_is_not_an_update_does_not_break_the_server(
    webhook_adapter: TelegramAdapter, telegram_server: FakeTelegramServer
) -> None:
    secret = webhook_secret(telegram_server.token)
    assert await post(webhook_adapter, {"nonsense": True}, secret) == 200
    assert await post(webhook_adapter, update(8, "still fine"), secret) == 200
    await telegram_server.wait_for(lambda: telegram_server.state.sent)
    assert len(telegram_server.state.sent) == 1


async def test_update_stored_before_a_shutdown_is_answered_after_the_restart_without_an_error_text(
    tmp_path: Path, telegram_server: FakeTelegramServer
) -> None:
    engine = HoldingEngine()
    app = build_bot(tmp_path, telegram_server, engine, settings={**WEBHOOK, "shutdown_grace_s": 0.1})
    async with app:
        adapter = create_adapter(app.platform_context())
        await adapter.start()
        secret = webhook_secret(telegram_server.token)
        assert await post(adapter, update(9, "slow question"), secret) == 200  # stored: Telegram may forget it
        await telegram_server.wait_for(lambda: telegram_server.state.chat_actions)  # it is being generated
        await adapter.stop()
    assert telegram_server.state.sent == []
    async with (
        build_bot(tmp_path, telegram_server, settings=WEBHOOK) as restarted,
        create_adapter(restarted.platform_context()),
    ):
        await telegram_server.wait_for(lambda: telegram_server.state.sent)
    assert [(m.reply_to_message_id, m.text) for m in telegram_server.state.sent] == [(9, "ok")]


async def test_update_arriving_while_the_bot_stops_is_answered_503_so_telegram_sends_it_again(
    tmp_path: Path, telegram_server: FakeTelegramServer
) -> None:
    async with build_bot(tmp_path, telegram_server, settings=WEBHOOK) as app:
        adapter = create_adapter(app.platform_context())
        await adapter.start()
        await adapter.stop_receiving()
        assert await post(adapter, update(10, "late"), webhook_secret(telegram_server.token)) == 503
        await adapter.stop()
    assert telegram_server.state.sent == []
