"""A fake Bot API server and a bot wired to it through `telegram.base_url`, with fast flood settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.telegram import TelegramAdapter, create_adapter
from bot.app import BotApp
from bot.engine.base import Engine
from bot.engine.fake import ScriptedEngine
from tests.fakes.telegram_api import FakeTelegramServer
from tests.support import build_test_app


def telegram_config(server: FakeTelegramServer, extra: str = "", bot_extra: str = "") -> str:
    """Config text pointing the bot at the fake, with relaxed limits so tests never wait on real ones."""
    return f"""{bot_extra}
[telegram]
base_url = "{server.base_url}"
base_file_url = "http://127.0.0.1:{server.port}/file/bot"
poll_timeout_s = 1
busy_poll_interval_s = 0.02
typing_interval_s = 0.05
flood_messages_per_s = 0
flood_chat_interval_s = 0
flood_group_messages_per_min = 0
network_backoff_s = 0.01
shutdown_grace_s = 2
{extra}
"""


def build_bot(tmp_path: Path, server: FakeTelegramServer, engine: Engine | None = None, extra: str = "",
              bot_extra: str = "") -> BotApp:
    return build_test_app(tmp_path, engine=engine or ScriptedEngine(),
                          config_text=telegram_config(server, extra, bot_extra),
                          environ={"TELEGRAM_BOT_TOKEN": server.token})


@pytest.fixture
async def telegram_server() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer() as server:
        yield server


@pytest.fixture
async def bot_app(tmp_path: Path, telegram_server: FakeTelegramServer,
                  scripted_engine: ScriptedEngine) -> AsyncIterator[BotApp]:
    app = build_bot(tmp_path, telegram_server, scripted_engine)
    await app.start()
    yield app
    await app.stop()


@pytest.fixture
async def adapter(bot_app: BotApp) -> AsyncIterator[TelegramAdapter]:
    """A polling adapter connected to the fake server."""
    telegram = create_adapter(bot_app)
    await telegram.start()
    yield telegram
    await telegram.stop()
