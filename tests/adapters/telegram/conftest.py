"""A fake Bot API server and a bot wired to it through `telegram.base_url`, with fast flood settings."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.telegram import TelegramAdapter, create_adapter
from bot.app import BotApp
from bot.engine.base import Engine, GenerationRequest, GenerationResult
from bot.engine.fake import ScriptedEngine
from tests.fakes.telegram_api import FakeTelegramServer
from tests.support import build_test_app

FAST_TELEGRAM_SETTINGS: dict[str, object] = {
    "poll_timeout_s": 1,
    "flood_messages_per_s": 0,
    "flood_chat_interval_s": 0,
    "flood_group_messages_per_min": 0,
    "network_backoff_s": 0.01,
    "shutdown_grace_s": 2,
}


def telegram_config(
    server: FakeTelegramServer, settings: dict[str, object] | None = None, extra: str = "", bot_extra: str = ""
) -> str:
    """Config text pointing the bot at the fake, with relaxed limits so tests never wait on real ones."""
    values: dict[str, object] = {
        "base_url": server.base_url,
        "base_file_url": f"http://127.0.0.1:{server.port}/file/bot",
        **FAST_TELEGRAM_SETTINGS,
        **(settings or {}),
    }
    # The grace period on stop is the same for every platform: it lives in [delivery].
    grace = values.pop("shutdown_grace_s")
    lines = "\n".join(f"{key} = {json.dumps(value)}" for key, value in values.items())
    return f"{bot_extra}\n[telegram]\n{lines}\n[delivery]\nshutdown_grace_s = {grace}\n{extra}\n"


def build_bot(
    tmp_path: Path,
    server: FakeTelegramServer,
    engine: Engine | None = None,
    settings: dict[str, object] | None = None,
    extra: str = "",
    bot_extra: str = "",
) -> BotApp:
    """A bot for the fake server; no features, so these tests see only the manager and the adapter."""
    return build_test_app(
        tmp_path,
        engine=engine or ScriptedEngine(),
        config_text=telegram_config(server, settings, extra, bot_extra),
        environ={"TELEGRAM_BOT_TOKEN": server.token},
        features=[],
    )


class HoldingEngine(ScriptedEngine):
    """Answers at once, except prompts containing 'slow', which wait until `release` is set."""

    def __init__(self) -> None:
        super().__init__(default_reply="answer")
        self.release = asyncio.Event()

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        if "slow" in request.messages[-1].content:
            await self.release.wait()
        return await super().generate(request)


@pytest.fixture
async def telegram_server() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer() as server:
        yield server


@pytest.fixture
async def bot_app(
    tmp_path: Path, telegram_server: FakeTelegramServer, scripted_engine: ScriptedEngine
) -> AsyncIterator[BotApp]:
    app = build_bot(tmp_path, telegram_server, scripted_engine)
    await app.start()
    yield app
    await app.stop()


@pytest.fixture
async def adapter(bot_app: BotApp) -> AsyncIterator[TelegramAdapter]:
    """A polling adapter connected to the fake server."""
    telegram = create_adapter(bot_app.platform_context())
    await telegram.start()
    yield telegram
    await telegram.stop()
