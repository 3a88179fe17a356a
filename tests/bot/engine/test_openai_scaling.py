"""Serving the model from another machine: a bot configured with `backend = "openai"` against the fake
OpenAI-compatible server keeps the engine's queue, busy replies and per-request timeouts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import BotApp
from bot.engine.openai_engine import OpenAIEngine
from bot.moderation.gate import GatePolicy, ModerationGate
from tests.fakes.openai_server import FakeOpenAIServer, ScriptedResponse
from tests.support import incoming

BUSY = "I'm busy right now, please try again in a moment."
ERROR = "Something went wrong on my side, please try again."


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAIServer]:
    fake = FakeOpenAIServer()
    await fake.start()
    yield fake
    await fake.stop()


def remote_bot(tmp_path: Path, server: FakeOpenAIServer, model: str) -> BotApp:
    """A bot whose engine is built from the config, as `socialbot run` builds it."""
    config = tmp_path / "socialbot.toml"
    config.write_text(
        f'[bot]\ndatabase = "bot.db"\nbusy_reply = "{BUSY}"\nerror_reply = "{ERROR}"\n'
        f'[model]\nbackend = "openai"\nopenai_base_url = "{server.base_url}"\nopenai_model = "smol"\n{model}',
        encoding="utf-8",
    )
    from bot.config import load_config

    return BotApp.build(
        load_config(config, environ={"SOCIALBOT_OPENAI_API_KEY": "sk-remote"}),
        gate=ModerationGate(GatePolicy()),
        features=[],
    )


async def ask(app: BotApp, text: str, chat_id: str) -> tuple[str, float]:
    started = time.monotonic()
    replies = await app.manager.handle(incoming(text, chat_id=chat_id))
    return " ".join(reply.text for reply in replies), time.monotonic() - started


async def test_replies_come_from_the_remote_server_with_the_key(tmp_path: Path, server: FakeOpenAIServer) -> None:
    app = remote_bot(tmp_path, server, "")
    assert isinstance(app.engine, OpenAIEngine)
    server.enqueue(ScriptedResponse(text="We open at nine."))
    await app.start()
    try:
        reply, _ = await ask(app, "when do you open?", "c1")
    finally:
        await app.stop()
    assert reply == "We open at nine."
    assert server.requests[0]["model"] == "smol"
    assert server.headers[0]["Authorization"] == "Bearer sk-remote"


async def test_requests_beyond_the_queue_get_the_busy_reply_at_once(tmp_path: Path, server: FakeOpenAIServer) -> None:
    app = remote_bot(tmp_path, server, "max_concurrent_sequences = 1\nmax_queue = 1\nrequest_timeout_s = 20\n")
    server.enqueue(ScriptedResponse(text="first", delay_s=1.0), ScriptedResponse(text="second"))
    await app.start()
    try:
        first = asyncio.create_task(ask(app, "one", "c1"))
        second = asyncio.create_task(ask(app, "two", "c2"))
        stats = app.engine.stats()  # type: ignore[attr-defined]
        deadline = time.monotonic() + 5
        while (stats.running, stats.queued) != (1, 1):
            assert time.monotonic() < deadline, stats
            await asyncio.sleep(0.01)
            stats = app.engine.stats()  # type: ignore[attr-defined]
        third, third_seconds = await ask(app, "three", "c3")
        results = [await first, await second]
    finally:
        await app.stop()
    assert third == BUSY and third_seconds < 0.9  # refused without waiting for the slow request
    assert [text for text, _ in results] == ["first", "second"]
    assert len(server.requests) == 2


async def test_the_timeout_counts_from_submission_queueing_included(tmp_path: Path, server: FakeOpenAIServer) -> None:
    app = remote_bot(tmp_path, server, "max_concurrent_sequences = 1\nmax_queue = 4\nrequest_timeout_s = 1.0\n")
    server.enqueue(ScriptedResponse(text="too late", delay_s=3.0), ScriptedResponse(text="late too", delay_s=3.0))
    await app.start()
    try:
        (first, first_s), (second, second_s) = await asyncio.gather(ask(app, "one", "c1"), ask(app, "two", "c2"))
    finally:
        await app.stop()
    assert (first, second) == (ERROR, ERROR)
    # Counted from submission, the queued one ends with the first; were the queue not counted, it would
    # get a fresh second once the first gave up its slot (about 1 s later).
    assert second_s < first_s + 0.6


async def test_a_server_answering_503_is_a_busy_reply(tmp_path: Path, server: FakeOpenAIServer) -> None:
    app = remote_bot(tmp_path, server, "")
    server.enqueue(ScriptedResponse(status=503, error_body='{"error": "overloaded"}'))
    await app.start()
    try:
        reply, _ = await ask(app, "hello", "c1")
    finally:
        await app.stop()
    assert reply == BUSY
