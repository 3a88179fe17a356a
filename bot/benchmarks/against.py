"""`socialbot bench --against URL`: the engine against an OpenAI-compatible server on one workload.

The server (llama.cpp's llama-server, vLLM, Ollama) gets exactly the chat turns the engine gets —
the same seeded histories, new messages and reply lengths — over streaming HTTP, so time to first
token is measured where a client sees it. Both sides see each conversation's history once before
the timed runs (the server may keep it in its prompt cache, as the engine keeps its keys/values),
and both are asked to ignore end-of-sequence so they produce the same number of tokens.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp

from bot.benchmarks.engine import (
    BenchRequest,
    Progress,
    RunFigures,
    _engine_request,
    _percentile,
    build_workload,
    peak_rss_mib,
    prime,
    profile_breakdown,
    reset_peak_rss,
    run_engine,
    run_header,
    write_json_report,
)
from bot.engine.base import ChatTurn, EngineError
from bot.engine.loader import LoadedModel, load_model
from bot.engine.openai_engine import server_sent_data
from bot.engine.settings import EngineSettings
from bot.engine.step_profile import StepBreakdown, format_breakdown
from bot.engine.transformers_engine import TransformersEngine, resolve_kv_dtype


@dataclass(frozen=True)
class WorkloadShape:
    """How big the benchmark's requests are: the full run, or a tiny one for tests and smoke runs."""

    levels: tuple[int, ...] = (1, 4, 8, 16)
    history_tokens: tuple[int, int] = (600, 1500)
    reply_tokens: tuple[int, int] = (32, 128)
    long_history_tokens: int = 2000
    decode_tokens: int = 64
    repeats: int = 3
    profile_steps: int = 8


FULL = WorkloadShape()
QUICK = WorkloadShape(
    levels=(1, 4), history_tokens=(300, 600), reply_tokens=(16, 32), long_history_tokens=1000, profile_steps=2
)


@dataclass(frozen=True)
class StreamedReply:
    """One streamed completion as the client saw it."""

    tokens: int
    ttft_s: float
    latency_s: float


def api_base(url: str) -> str:
    """``http://host:port`` or ``http://host:port/v1`` -> the ``.../v1`` base the chat path hangs off."""
    base = url.rstrip("/")
    return base if base.endswith("/v1") else base + "/v1"


class StreamingChatClient:
    """Streams chat completions from an OpenAI-compatible server and times them.

    It exists (instead of reusing ``OpenAIEngine``) because the benchmark needs what that backend
    hides: the arrival of the first content chunk, the server's own token count, and the server
    extensions that force a fixed reply length (``ignore_eos`` for llama.cpp and vLLM,
    ``min_tokens`` for vLLM) and keep the prompt cache (``cache_prompt`` for llama.cpp).
    """

    def __init__(self, session: aiohttp.ClientSession, url: str, model: str = "default") -> None:
        self._session = session
        self._url = api_base(url) + "/chat/completions"
        self._model = model

    async def complete(self, messages: Sequence[ChatTurn], tokens: int) -> StreamedReply:
        payload = {
            "model": self._model,
            "messages": [{"role": turn.role, "content": turn.content} for turn in messages],
            "max_tokens": tokens,
            "min_tokens": tokens,
            "ignore_eos": True,
            "cache_prompt": True,
            "temperature": 0.0,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        started = time.perf_counter()
        first: float | None = None
        chunks = 0
        usage_tokens: int | None = None
        try:
            async with self._session.post(self._url, json=payload) as response:
                if response.status >= 400:
                    body = (await response.text())[:200]
                    raise EngineError(f"{self._url} answered HTTP {response.status}: {body}")
                async for data in server_sent_data(response.content):
                    chunk = json.loads(data)
                    usage = chunk.get("usage")
                    if usage and usage.get("completion_tokens") is not None:
                        usage_tokens = int(usage["completion_tokens"])
                    choices = chunk.get("choices") or []
                    if choices and (choices[0].get("delta") or {}).get("content"):
                        chunks += 1
                        if first is None:
                            first = time.perf_counter()
        except aiohttp.ClientError as exc:
            raise EngineError(f"could not reach {self._url}: {exc}") from exc
        finished = time.perf_counter()
        # Servers that send no usage stream one token per chunk (llama.cpp, Ollama).
        count = usage_tokens if usage_tokens is not None else chunks
        return StreamedReply(count, (first or finished) - started, finished - started)


async def _run_server_batch(client: StreamingChatClient, requests: Sequence[BenchRequest]) -> RunFigures:
    started = time.perf_counter()
    replies = await asyncio.gather(*(client.complete(r.messages, r.reply_tokens) for r in requests))
    wall = time.perf_counter() - started
    return RunFigures(
        len(requests),
        sum(reply.tokens for reply in replies),
        wall,
        tuple(reply.ttft_s for reply in replies),
        tuple(reply.latency_s for reply in replies),
    )


def decode_rate(tokens: int, ttft_s: float, latency_s: float) -> float:
    """Tokens per second after the first token: decoding alone, prompt processing left out."""
    decode_s = latency_s - ttft_s
    return (tokens - 1) / decode_s if tokens > 1 and decode_s > 0 else 0.0


@dataclass(frozen=True)
class SideFigures:
    """Everything measured on one side: per-concurrency runs, batch-1 decode, next-turn TTFT."""

    concurrency: dict[int, RunFigures]
    decode_batch1_tok_s: float
    next_turn_ttft_s: float
    next_turn_history_tokens: int
    breakdown: tuple[StepBreakdown, ...] = ()
    # The engine's peak while serving (MiB), read before the profiled breakdown: torch.profiler's own
    # event records (measured ~200 MiB for 8 profiled steps) are the benchmark's memory, not the engine's.
    peak_rss_mib: float | None = None


async def measure_server(
    url: str,
    model: str,
    workload: Sequence[BenchRequest],
    long_request: BenchRequest,
    shape: WorkloadShape,
    progress: Progress,
    timeout_s: float = 600.0,
) -> SideFigures:
    """The workload against the server: warm-up, priming, each concurrency level, decode, next turn."""
    timeout = aiohttp.ClientTimeout(total=timeout_s, connect=10.0)
    # A fresh connection per request: a server that drops an idle keep-alive connection (seen with
    # llama-server after a long reply) must not fail the next request.
    connector = aiohttp.TCPConnector(limit=max(shape.levels) + 2, force_close=True)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        client = StreamingChatClient(session, url, model)
        await client.complete(workload[0].messages, 4)  # warm-up, untimed
        progress(f"Server: priming {len(workload)} conversations (untimed)...")
        await asyncio.gather(*(client.complete(r.history, 1) for r in workload))
        figures = {}
        for level in shape.levels:
            progress(f"Server: {level} concurrent conversations...")
            figures[level] = await _run_server_batch(client, workload[:level])
        progress("Server: batch-1 decode and next-turn TTFT...")
        rates = []
        for _ in range(shape.repeats):
            reply = await client.complete(workload[0].messages, shape.decode_tokens)
            rates.append(decode_rate(reply.tokens, reply.ttft_s, reply.latency_s))
        ttfts = []
        for _ in range(shape.repeats):  # each repeat: the history seen before, then the new turn
            await client.complete(long_request.history, 1)
            ttfts.append((await client.complete(long_request.messages, 1)).ttft_s)
    return SideFigures(figures, statistics.median(rates), statistics.median(ttfts), 0)


async def measure_engine(
    settings: EngineSettings,
    loaded: LoadedModel,
    workload: Sequence[BenchRequest],
    long_request: BenchRequest,
    shape: WorkloadShape,
    progress: Progress,
) -> SideFigures:
    """The same workload, in the same order, against the in-process engine."""
    engine = TransformersEngine(settings, loaded=loaded)
    await engine.start()
    try:
        await engine.generate(_engine_request(workload[0], tokens=4, conversation=None))  # warm-up, untimed
        progress(f"Engine: priming {len(workload)} conversations' caches (untimed)...")
        await prime(engine, workload)
        figures = {}
        for level in shape.levels:
            progress(f"Engine: {level} concurrent conversations...")
            figures[level] = await run_engine(engine, workload[:level])
        progress("Engine: batch-1 decode and next-turn TTFT...")
        rates = []
        for _ in range(shape.repeats):
            result = await engine.generate(_engine_request(workload[0], tokens=shape.decode_tokens))
            rates.append(
                decode_rate(result.completion_tokens, result.time_to_first_token_s or 0.0, result.latency_s or 0.0)
            )
        ttfts, history_tokens = [], 0
        for _ in range(shape.repeats):  # each repeat: the history seen before, then the new turn
            engine.forget_conversation(long_request.conversation_id)
            await prime(engine, [long_request])
            result = await engine.generate(_engine_request(long_request, tokens=1))
            ttfts.append(result.time_to_first_token_s or 0.0)
            history_tokens = result.prompt_tokens
        serving_peak = peak_rss_mib()
        progress("Engine: per-step breakdown at 1 and 16 sequences (profiled)...")
        breakdown = await profile_breakdown(engine, workload, steps=shape.profile_steps)
    finally:
        await engine.stop()
    return SideFigures(
        figures, statistics.median(rates), statistics.median(ttfts), history_tokens, tuple(breakdown), serving_peak
    )


def server_peak_rss_mib(pid: int | None) -> float | None:
    """The server process's peak resident memory (Linux /proc), when its pid is known."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _ratio(engine: float, server: float) -> float:
    return round(engine / server, 3) if server > 0 else 0.0


def run_against(
    url: str,
    settings: EngineSettings | None = None,
    shape: WorkloadShape = FULL,
    seed: int = 20261123,
    server_model: str = "default",
    server_pid: int | None = None,
    json_path: str | Path | None = None,
    progress: Progress = print,
    loaded: LoadedModel | None = None,
) -> dict[str, Any]:
    """Run the workload against the server, then the engine; print one table, optionally write JSON."""
    settings = settings or EngineSettings()
    levels = tuple(sorted(set(shape.levels)))
    shape = replace(shape, levels=levels)
    progress(f"socialbot bench --against {url}: seed {seed}, {os.cpu_count()} CPU cores")
    # Loaded as the bot loads it (`direct`: no transformers model for a plain Llama such as the bundled one),
    # so the memory figure is the shipped engine's: nothing here needs `generate`.
    loaded = loaded or load_model(settings, progress, direct=True)
    rng = random.Random(seed)
    workload = build_workload(loaded.tokenizer, max(levels), rng, shape.history_tokens, shape.reply_tokens)
    long_target = shape.long_history_tokens
    long_request = build_workload(loaded.tokenizer, 1, rng, (long_target, long_target), (1, 1))[0]
    long_request = replace(long_request, conversation_id="bench-long")

    server = asyncio.run(measure_server(url, server_model, workload, long_request, shape, progress))
    separate_peaks = reset_peak_rss()
    engine_settings = replace(settings, max_concurrent_sequences=max(settings.max_concurrent_sequences, max(levels)))
    engine = asyncio.run(measure_engine(engine_settings, loaded, workload, long_request, shape, progress))
    kv_dtype = str(
        resolve_kv_dtype(settings.kv_dtype, loaded.model.model.embed_tokens.weight.dtype, loaded.device)
    ).removeprefix("torch.")
    against: dict[str, Any] = {
        "url": url,
        "concurrency": {},
        "decode_batch1_tok_s": {
            "engine": round(engine.decode_batch1_tok_s, 2),
            "server": round(server.decode_batch1_tok_s, 2),
        },
        "decode_batch1_ratio": _ratio(engine.decode_batch1_tok_s, server.decode_batch1_tok_s),
        "next_turn_history_tokens": engine.next_turn_history_tokens,
        "next_turn_ttft_s": {"engine": round(engine.next_turn_ttft_s, 4), "server": round(server.next_turn_ttft_s, 4)},
        "next_turn_ttft_ratio": _ratio(engine.next_turn_ttft_s, server.next_turn_ttft_s),
    }
    server_peak = server_peak_rss_mib(server_pid)
    report: dict[str, Any] = {
        **run_header(seed, loaded.device, settings, kv_dtype),
        "workload": {
            "levels": list(levels),
            "history_tokens": list(shape.history_tokens),
            "reply_tokens": list(shape.reply_tokens),
            "long_history_tokens": shape.long_history_tokens,
            "decode_tokens": shape.decode_tokens,
        },
        "against": against,
        "peak_rss_mib": round(engine.peak_rss_mib or peak_rss_mib(), 1),
        "peak_rss_scope": "engine" if separate_peaks else "process",
        "server_peak_rss_mib": round(server_peak, 1) if server_peak is not None else None,
        "step_breakdown": {str(row.sequences): row.as_dict() for row in engine.breakdown},
    }
    for level in levels:
        e, s = engine.concurrency[level], server.concurrency[level]
        row = {
            "engine": e.as_dict(),
            "server": s.as_dict(),
            "throughput_ratio": _ratio(e.throughput, s.throughput),
            "p95_ttft_ratio": _ratio(_percentile(e.ttft_s, 95), _percentile(s.ttft_s, 95)),
        }
        against["concurrency"][str(level)] = row
        report[f"against.concurrency.{level}.throughput_ratio"] = row["throughput_ratio"]
    report["against.decode_batch1_ratio"] = against["decode_batch1_ratio"]
    report["against.next_turn_ttft_ratio"] = against["next_turn_ttft_ratio"]
    progress(format_against_table(report))
    write_json_report(report, json_path, progress)
    return report


def format_against_table(report: dict[str, Any]) -> str:
    """Both sides in one table, ratios engine ÷ server (throughput: above 1 is better; TTFT: below 1)."""
    against = report["against"]
    lines = [
        f"engine {report['device']} {report['dtype']} int8={report['quantize_int8']} kv={report['kv_dtype']} "
        f"threads={report['torch_threads']} | server {against['url']}",
        f"{'conc':>4} {'engine tok/s':>12} {'server tok/s':>12} {'ratio':>7} "
        f"{'engine TTFT p95':>15} {'server TTFT p95':>15}",
    ]
    for level, row in against["concurrency"].items():
        lines.append(
            f"{level:>4} {row['engine']['throughput_tok_s']:>12.1f} {row['server']['throughput_tok_s']:>12.1f} "
            f"{row['throughput_ratio']:>6.2f}x {row['engine']['ttft_p95_s']:>14.3f}s "
            f"{row['server']['ttft_p95_s']:>14.3f}s"
        )
    decode, ttft = against["decode_batch1_tok_s"], against["next_turn_ttft_s"]
    lines.append(
        f"batch-1 decode: engine {decode['engine']:.1f} tok/s, server {decode['server']:.1f} tok/s "
        f"({against['decode_batch1_ratio']:.2f}x)"
    )
    lines.append(
        f"next turn of a {against['next_turn_history_tokens']}-token conversation, TTFT: engine {ttft['engine']:.3f}s, "
        f"server {ttft['server']:.3f}s ({against['next_turn_ttft_ratio']:.2f}x; below 1 is better)"
    )
    server_rss = report.get("server_peak_rss_mib")
    server_text = f"server {server_rss:.0f} MiB" if server_rss is not None else "server unknown (pass --server-pid)"
    lines.append(f"peak RSS: engine {report['peak_rss_mib']:.0f} MiB ({report['peak_rss_scope']}), {server_text}")
    lines.append(format_breakdown([StepBreakdown(**row) for row in report.get("step_breakdown", {}).values()]))
    return "\n".join(lines)
