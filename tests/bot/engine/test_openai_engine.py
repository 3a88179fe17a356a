"""The OpenAI-compatible backend against a fake server: plain and streamed replies, error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from bot.engine.base import (
    ChatTurn,
    Engine,
    EngineBusy,
    EngineError,
    EngineTimeout,
    GenerationRequest,
    GenerationSettings,
)
from bot.engine.factory import create_engine
from bot.engine.openai_engine import OpenAIEngine
from bot.engine.settings import EngineSettings
from tests.fakes.openai_server import FakeOpenAIServer, ScriptedResponse

REQUEST = GenerationRequest(
    messages=(ChatTurn("system", "Be brief."), ChatTurn("user", "Hello?")),
    settings=GenerationSettings(max_new_tokens=20, stop=("User:",)),
    conversation_id="chat-1",
)


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAIServer]:
    fake = FakeOpenAIServer()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def engine(server: FakeOpenAIServer) -> AsyncIterator[OpenAIEngine]:
    settings = EngineSettings(
        backend="openai", openai_base_url=server.base_url, openai_model="smol", openai_api_key="sk-test"
    )
    created = create_engine(settings)
    assert isinstance(created, OpenAIEngine) and isinstance(created, Engine)
    await created.start()
    yield created
    await created.stop()


async def test_plain_reply_is_cleaned_and_request_is_sent_in_openai_shape(
    engine: OpenAIEngine, server: FakeOpenAIServer
) -> None:
    server.enqueue(ScriptedResponse(text="  Hi there!<|im_end|> "))
    result = await engine.generate(REQUEST)
    assert (result.text, result.finish_reason, result.prompt_tokens) == ("Hi there!", "stop", 11)
    sent = server.requests[0]
    assert sent["model"] == "smol" and sent["stream"] is False and sent["max_tokens"] == 20
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello?"}]
    assert sent["stop"] == ["User:"]
    assert server.headers[0]["Authorization"] == "Bearer sk-test"


async def test_length_cut_reply_ends_at_a_sentence(engine: OpenAIEngine, server: FakeOpenAIServer) -> None:
    server.enqueue(ScriptedResponse(text="One thing. Another thing is", finish_reason="length"))
    result = await engine.generate(REQUEST)
    assert (result.text, result.finish_reason) == ("One thing.", "length")


async def test_stream_yields_pieces_that_join_to_the_reply(engine: OpenAIEngine, server: FakeOpenAIServer) -> None:
    server.enqueue(ScriptedResponse(text="Streaming works word by word."))
    pieces = [piece async for piece in engine.stream(REQUEST)]
    assert len(pieces) == 5
    assert "".join(pieces) == "Streaming works word by word."
    assert server.requests[0]["stream"] is True


@pytest.mark.parametrize(
    ("status", "error"), [(429, EngineBusy), (503, EngineBusy), (504, EngineTimeout), (500, EngineError)]
)
async def test_http_errors_map_to_engine_errors(
    engine: OpenAIEngine, server: FakeOpenAIServer, status: int, error: type[EngineError]
) -> None:
    server.enqueue(ScriptedResponse(status=status), ScriptedResponse(status=status))
    with pytest.raises(error):
        await engine.generate(REQUEST)
    with pytest.raises(error):
        _ = [piece async for piece in engine.stream(REQUEST)]


async def test_slow_server_times_out(server: FakeOpenAIServer) -> None:
    engine = OpenAIEngine(EngineSettings(backend="openai", openai_base_url=server.base_url, request_timeout_s=0.2))
    await engine.start()
    try:
        server.enqueue(ScriptedResponse(delay_s=2.0))
        with pytest.raises(EngineTimeout):
            await engine.generate(REQUEST)
    finally:
        await engine.stop()


async def test_unreachable_server_is_an_engine_error() -> None:
    engine = OpenAIEngine(EngineSettings(backend="openai", openai_base_url="http://127.0.0.1:9/v1"))
    await engine.start()
    try:
        with pytest.raises(EngineError):
            await engine.generate(REQUEST)
    finally:
        await engine.stop()


async def test_full_queue_is_busy_at_once(server: FakeOpenAIServer) -> None:
    import asyncio

    settings = EngineSettings(
        backend="openai", openai_base_url=server.base_url, max_concurrent_sequences=1, max_queue=0
    )
    engine = OpenAIEngine(settings)
    await engine.start()
    try:
        server.enqueue(ScriptedResponse(delay_s=0.5))
        first = asyncio.create_task(engine.generate(REQUEST))
        await asyncio.sleep(0.05)
        with pytest.raises(EngineBusy):
            await engine.generate(REQUEST)
        assert (await first).text
    finally:
        await engine.stop()


def test_token_count_is_approximate_without_a_tokenizer() -> None:
    engine = OpenAIEngine(EngineSettings(backend="openai"))
    short = engine.count_tokens([ChatTurn("user", "hi")])
    long = engine.count_tokens([ChatTurn("user", "hi " * 400)])
    assert 250 <= long - short <= 350
    assert replace(EngineSettings(), openai_api_key="secret").__repr__().count("secret") == 0
