"""Starting in the background: platforms connect and messages are stored while the model loads; a turn that
arrived early is answered once, when the bot is up; /healthz says "not ready" until then."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from adapters.telegram import create_adapter
from bot.config import load_config
from bot.engine.fake import ScriptedEngine
from bot.engine.settings import EngineSettings
from bot.moderation.gate import GatePolicy, ModerationGate
from bot.ops.background_engine import BackgroundEngine
from bot.ops.feature import OpsFeature
from bot.ops.settings import MetricsSection
from bot.ops.startup import BackgroundStart
from bot.store import Store
from tests.bot.ops.test_http import FAST_TELEGRAM
from tests.fakes.telegram_api import FakeTelegramServer
from tests.support import write_config

ROOT = Path(__file__).resolve().parents[3]


class HeldEngine(ScriptedEngine):
    """A scripted engine whose start lasts until the test lets it finish, like a model still loading."""

    def __init__(self, replies: list[str]) -> None:
        super().__init__(replies)
        self.release = asyncio.Event()

    async def start(self) -> None:
        await self.release.wait()
        await asyncio.to_thread(lambda: None)  # like a real start, it needs a thread of the loop's executor
        await super().start()


async def healthz(url: str) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as session, session.get(url + "/healthz") as response:
        return response.status, json.loads(await response.text())


async def wait_until(predicate: object, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def message_rows(start: BackgroundStart) -> list[dict[str, object]]:
    return list(start.app.store.db.query("select role, text, status from messages order by id"))


async def test_a_message_that_arrives_while_the_model_loads_is_stored_at_once_and_answered_once_it_is_up(
    tmp_path: Path,
) -> None:
    async with FakeTelegramServer() as telegram:
        config = FAST_TELEGRAM.format(base=telegram.base_url, files=f"http://127.0.0.1:{telegram.port}/file/bot")
        engine = HeldEngine(["We open at nine."])
        ops = OpsFeature(MetricsSection(port=0))
        start = BackgroundStart(
            load_config(write_config(tmp_path, config), environ={"TELEGRAM_BOT_TOKEN": telegram.token}),
            engine=engine,
            gate=ModerationGate(GatePolicy()),
            features=[ops],
        )
        starting = start.begin()
        adapter = create_adapter(start.app)
        await adapter.start()  # connected while the engine is still "loading"
        try:
            assert ops.server is not None
            await wait_until(lambda: ops._listening)
            status, report = await healthz(ops.server.url)
            assert status == 503 and report["ready"] is False
            assert report["platforms_connected"] == ["telegram"]

            await telegram.push_message("when do you open?")
            await wait_until(lambda: any(row["role"] == "user" for row in message_rows(start)))
            await asyncio.sleep(0.3)
            assert telegram.state.sent == [] and not start.ready  # stored, waiting: no error text, no reply

            engine.release.set()
            await asyncio.wait_for(starting, 10)
            await wait_until(lambda: len(telegram.state.sent) == 1)
            assert telegram.state.sent[0].text == "We open at nine."
            assert [(row["role"], row["status"]) for row in message_rows(start)] == [
                ("user", "answered"),
                ("assistant", "sent"),
            ]
            status, report = await healthz(ops.server.url)
            assert status == 200 and report["ready"] is True
            await asyncio.sleep(0.3)
            assert len(telegram.state.sent) == 1  # answered once
        finally:
            await adapter.stop()
            await start.app.stop()


async def test_more_conversations_waiting_than_executor_threads_do_not_hold_up_the_start(tmp_path: Path) -> None:
    conversations = 12  # the loop's default executor has min(32, cores + 4) threads: 6 on the CI box
    async with FakeTelegramServer() as telegram:
        config = FAST_TELEGRAM.format(base=telegram.base_url, files=f"http://127.0.0.1:{telegram.port}/file/bot")
        engine = HeldEngine([f"reply {n}" for n in range(conversations)])
        start = BackgroundStart(
            load_config(write_config(tmp_path, config), environ={"TELEGRAM_BOT_TOKEN": telegram.token}),
            engine=engine,
            gate=ModerationGate(GatePolicy()),
            features=[],
        )
        starting = start.begin()
        adapter = create_adapter(start.app)
        await adapter.start()
        try:
            for chat in range(conversations):
                await telegram.push_message("hello?", chat_id=2000 + chat, user_id=2000 + chat)
            await wait_until(lambda: sum(row["role"] == "user" for row in message_rows(start)) == conversations)
            await asyncio.sleep(0.3)
            engine.release.set()
            await asyncio.wait_for(starting, 15)
            await wait_until(lambda: len(telegram.state.sent) == conversations)
        finally:
            await adapter.stop()
            await start.app.stop()


async def test_stopping_during_the_start_leaves_a_waiting_message_stored_for_the_next_start(tmp_path: Path) -> None:
    async with FakeTelegramServer() as telegram:
        config = FAST_TELEGRAM.format(base=telegram.base_url, files=f"http://127.0.0.1:{telegram.port}/file/bot")
        start = BackgroundStart(
            load_config(write_config(tmp_path, config), environ={"TELEGRAM_BOT_TOKEN": telegram.token}),
            engine=HeldEngine(["never sent"]),
            gate=ModerationGate(GatePolicy()),
            features=[],
        )
        start.begin()
        adapter = create_adapter(start.app)
        await adapter.start()
        try:
            await telegram.push_message("are you there?")
            await wait_until(lambda: any(row["role"] == "user" for row in message_rows(start)))
            await start.settle()  # what `socialbot run` does on SIGTERM before the model is up
            await adapter.stop_receiving()
            assert await start.app.drain() == 0
        finally:
            await adapter.stop()
            await start.app.stop()
        assert telegram.state.sent == []  # no error text
        store = Store.open(tmp_path / "bot.db")
        try:
            assert [row["status"] for row in store.db.query("select status from messages")] == ["received"]
        finally:
            store.close()


async def test_a_model_that_cannot_load_is_raised_by_start_and_by_the_start_task(tmp_path: Path) -> None:
    engine = BackgroundEngine(EngineSettings(model=str(tmp_path / "no-such-model"), device="cpu"))
    assert not engine.ready and engine.stats().alive is False
    from bot.engine.loader import ModelLoadError

    with pytest.raises(ModelLoadError, match="could not load model"):
        await engine.start()
    start = BackgroundStart(
        load_config(write_config(tmp_path), environ={}), engine=engine, gate=ModerationGate(GatePolicy()), features=[]
    )
    with pytest.raises(ModelLoadError):
        await start.wait_ready()
    assert not start.ready
    await start.app.stop()


@pytest.mark.model
@pytest.mark.slow
def test_the_console_answers_a_line_typed_before_the_model_was_up_with_the_real_model(tmp_path: Path) -> None:
    config = write_config(tmp_path, "[generation]\nmax_new_tokens = 12\n")
    completed = subprocess.run(
        [sys.executable, "-c", "from bot.cli.main import main; main()", "--config", str(config), "chat"],
        input="Write one word about the sea.\n",
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.endswith("_BOT_TOKEN")},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "still starting" in completed.stderr  # typed before the model was up (it loads in the background)
    replies = [line for line in completed.stdout.splitlines() if line.startswith("socialbot> ")]
    assert len(replies) == 1 and len(replies[0]) > len("socialbot> ")
    store = Store.open(tmp_path / "bot.db")
    try:
        rows = list(store.db.query("select role, status from messages order by id"))
    finally:
        store.close()
    assert [row["role"] for row in rows] == ["user", "assistant"] and rows[0]["status"] == "answered"


async def test_held_loads_begin_once_the_platforms_are_connected_and_an_early_message_is_answered_then(
    tmp_path: Path,
) -> None:
    async with FakeTelegramServer() as telegram:
        config = FAST_TELEGRAM.format(base=telegram.base_url, files=f"http://127.0.0.1:{telegram.port}/file/bot")
        config += '[moderation]\nclassifier = "none"\nharm_check = false\n'
        engine = ScriptedEngine(["We open at nine."])
        start = BackgroundStart(
            load_config(write_config(tmp_path, config), environ={"TELEGRAM_BOT_TOKEN": telegram.token}),
            engine=engine,
            features=[],
            hold_loads_s=60.0,
        )
        starting = start.begin()
        adapter = create_adapter(start.app)
        await adapter.start()
        try:
            await telegram.push_message("when do you open?")
            await wait_until(lambda: any(row["role"] == "user" for row in message_rows(start)))
            await asyncio.sleep(0.3)
            # Connected and the message stored, but the classifiers have not begun to load: nothing answered.
            assert "classifiers" not in start.timings.parts and not start.ready and telegram.state.sent == []

            start.release_loads()  # what `socialbot run` does once its adapters have started
            await asyncio.wait_for(starting, 30)
            assert "classifiers" in start.timings.parts
            await wait_until(lambda: len(telegram.state.sent) == 1)
            assert telegram.state.sent[0].text == "We open at nine."
        finally:
            await adapter.stop()
            await start.app.stop()


async def test_held_loads_begin_anyway_when_connecting_takes_too_long(tmp_path: Path) -> None:
    start = BackgroundStart(
        load_config(write_config(tmp_path, '[moderation]\nclassifier = "none"\nharm_check = false\n'), environ={}),
        engine=ScriptedEngine(["hi"]),
        features=[],
        hold_loads_s=0.2,
    )
    try:
        await asyncio.wait_for(start.wait_ready(), 30)  # never released: the hold ran out
        assert start.ready and "classifiers" in start.timings.parts
    finally:
        await start.app.stop()
