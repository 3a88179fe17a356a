"""`bench --against`: the same workload against an OpenAI-compatible server, both sides in one report."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.benchmarks.against import StreamingChatClient, WorkloadShape, api_base, decode_rate, run_against
from bot.engine.base import ChatTurn
from bot.engine.loader import LoadedModel
from bot.engine.settings import EngineSettings
from tests.fakes.openai_server import FakeOpenAIServer

# The full run measures 1, 4, 8 and 16 conversations; two levels show the report's shape quickly.
TINY = WorkloadShape(
    levels=(1, 4),
    history_tokens=(20, 40),
    reply_tokens=(2, 3),
    long_history_tokens=80,
    decode_tokens=4,
    repeats=1,
    profile_steps=1,
)


class _ServerThread:
    """The fake server on its own event loop, since the benchmark runs its own loops with asyncio.run."""

    def __init__(self, server: FakeOpenAIServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(timeout=10)

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def fake_server() -> Iterator[tuple[FakeOpenAIServer, str]]:
    server = FakeOpenAIServer(fill_to_max_tokens=True, token_delay_s=0.002)
    with _ServerThread(server) as url:
        yield server, url


def test_api_base_accepts_a_server_root_or_its_v1_path() -> None:
    assert api_base("http://127.0.0.1:8080") == "http://127.0.0.1:8080/v1"
    assert api_base("http://127.0.0.1:8080/v1/") == "http://127.0.0.1:8080/v1"


def test_decode_rate_leaves_the_first_token_out() -> None:
    assert decode_rate(tokens=11, ttft_s=1.0, latency_s=2.0) == pytest.approx(10.0)
    assert decode_rate(tokens=1, ttft_s=1.0, latency_s=2.0) == 0.0


async def test_streaming_client_asks_for_a_fixed_length_and_counts_the_servers_tokens() -> None:
    server = FakeOpenAIServer(fill_to_max_tokens=True, token_delay_s=0.005)
    url = await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            reply = await StreamingChatClient(session, url, "smol").complete([ChatTurn("user", "Hi?")], 6)
    finally:
        await server.stop()
    assert reply.tokens == 6
    assert 0 < reply.ttft_s < reply.latency_s
    sent = server.requests[0]
    assert sent["stream"] is True and sent["max_tokens"] == 6 and sent["ignore_eos"] is True
    assert sent["model"] == "smol" and sent["stream_options"] == {"include_usage": True}


@pytest.mark.model
def test_bench_against_a_fake_server_reports_both_sides_and_every_ratio(
    fake_server: tuple[FakeOpenAIServer, str], loaded_model: LoadedModel, model_settings: EngineSettings, tmp_path: Path
) -> None:
    server, url = fake_server
    lines: list[str] = []
    out = tmp_path / "against.json"
    report = run_against(url, model_settings, shape=TINY, json_path=out, progress=lines.append, loaded=loaded_model)

    written = json.loads(out.read_text(encoding="utf-8"))
    assert written == json.loads(json.dumps(report))
    for level in TINY.levels:
        row = written["against"]["concurrency"][str(level)]
        assert row["engine"]["requests"] == row["server"]["requests"] == level
        # Both sides produced exactly the requested reply lengths.
        assert row["engine"]["tokens"] == row["server"]["tokens"] > 0
        assert written[f"against.concurrency.{level}.throughput_ratio"] == pytest.approx(
            row["engine"]["throughput_tok_s"] / row["server"]["throughput_tok_s"], rel=0.05, abs=0.002
        )
    assert written["against.decode_batch1_ratio"] > 0 and written["against.next_turn_ttft_ratio"] > 0
    assert written["peak_rss_mib"] > 100
    # The server saw the engine's workload: the same system prompt and the fixed reply length.
    assert server.requests[0]["messages"][0] == {
        "role": "system",
        "content": "You are a friendly chat bot in a group chat.",
    }
    assert any("server tok/s" in line for line in lines)
    # Where a decode step's time goes, at 1 sequence (the workload has no 16): the parts add up.
    step = written["step_breakdown"]["1"]
    assert step["steps"] == 1 and step["matmul_ms"] > 0 and step["attention_ms"] > 0 and step["sampling_ms"] > 0
    parts = ("matmul_ms", "attention_ms", "sampling_ms", "other_ops_ms", "python_ms")
    assert sum(step[part] for part in parts) == pytest.approx(step["profiled_step_ms"], rel=0.05)
