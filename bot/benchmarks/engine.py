"""Benchmark: the serving engine against naive per-request generation, side by side in one run.

The naive baseline is what a bot without a serving engine does: for each request, one
``model.generate`` over the whole re-encoded history, one request after another. The engine gets
the same seeded workload with 1, 4, 8 and 16 conversations at once. Both sides use the same
loaded model and generate exactly the same number of tokens per request (EOS ignored), so tokens
per second compare like for like.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil
import torch

from bot.engine.base import ChatTurn, GenerationRequest, GenerationSettings
from bot.engine.loader import LoadedModel, load_model
from bot.engine.settings import EngineSettings
from bot.engine.step_profile import StepBreakdown, format_breakdown
from bot.engine.transformers_engine import TransformersEngine, encode_chat, resolve_kv_dtype

Progress = Callable[[str], None]

_WORDS = [
    "the",
    "a",
    "we",
    "you",
    "they",
    "it",
    "this",
    "that",
    "my",
    "your",
    "our",
    "game",
    "movie",
    "weekend",
    "music",
    "friend",
    "team",
    "plan",
    "idea",
    "question",
    "answer",
    "server",
    "channel",
    "bot",
    "message",
    "photo",
    "trip",
    "dinner",
    "coffee",
    "book",
    "code",
    "bug",
    "release",
    "update",
    "meeting",
    "time",
    "place",
    "city",
    "weather",
    "rain",
    "sun",
    "train",
    "bus",
    "ticket",
    "price",
    "shop",
    "store",
    "market",
    "really",
    "maybe",
    "probably",
    "definitely",
    "honestly",
    "actually",
    "quite",
    "very",
    "pretty",
    "super",
    "kind",
    "of",
    "sort",
    "think",
    "know",
    "want",
    "need",
    "like",
    "love",
    "hate",
    "try",
    "find",
    "make",
    "take",
    "give",
    "tell",
    "ask",
    "help",
    "play",
    "watch",
    "read",
    "write",
    "build",
    "fix",
    "test",
    "ship",
    "deploy",
    "join",
    "leave",
    "start",
    "finish",
    "wait",
    "remember",
    "forget",
    "learn",
    "teach",
    "good",
    "great",
    "nice",
    "bad",
    "weird",
    "funny",
    "long",
    "short",
    "new",
    "old",
    "big",
    "small",
    "early",
    "late",
    "next",
    "last",
    "first",
    "today",
    "tomorrow",
    "yesterday",
    "tonight",
    "morning",
    "evening",
    "soon",
    "again",
    "still",
    "already",
    "never",
    "always",
    "often",
]


@dataclass(frozen=True)
class BenchRequest:
    """One conversation's next turn: its history, the new user message, and the reply length."""

    conversation_id: str
    history: tuple[ChatTurn, ...]
    new_message: ChatTurn
    reply_tokens: int

    @property
    def messages(self) -> tuple[ChatTurn, ...]:
        return (*self.history, self.new_message)


@dataclass(frozen=True)
class RunFigures:
    """Aggregate figures of one batch of requests on one side."""

    requests: int
    tokens: int
    wall_s: float
    ttft_s: tuple[float, ...]
    latency_s: tuple[float, ...]

    @property
    def throughput(self) -> float:
        return self.tokens / self.wall_s if self.wall_s > 0 else 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "requests": self.requests,
            "tokens": self.tokens,
            "wall_s": round(self.wall_s, 3),
            "throughput_tok_s": round(self.throughput, 2),
            "ttft_p50_s": round(_percentile(self.ttft_s, 50), 3),
            "ttft_p95_s": round(_percentile(self.ttft_s, 95), 3),
            "latency_p50_s": round(_percentile(self.latency_s, 50), 3),
            "latency_p95_s": round(_percentile(self.latency_s, 95), 3),
        }


def _percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(5, 16))]
    return " ".join(words).capitalize() + rng.choice([".", ".", "!", "?"])


def _text(rng: random.Random, sentences: int) -> str:
    return " ".join(_sentence(rng) for _ in range(sentences))


def _message_of_tokens(rng: random.Random, tokenizer: Any, low: int, high: int) -> str:
    target = rng.randint(low, high)
    words: list[str] = []
    while len(tokenizer.encode(" ".join(words), add_special_tokens=False)) < target:
        words.append(rng.choice(_WORDS))
    return " ".join(words).capitalize() + "?"


def build_workload(
    tokenizer: Any, count: int, rng: random.Random, history_tokens: tuple[int, int], reply_tokens: tuple[int, int]
) -> list[BenchRequest]:
    """Seeded chat turns: 600–1,500 tokens of history, a 10–60 token message, a 32–128 token reply."""
    requests = []
    for index in range(count):
        target = rng.randint(*history_tokens)
        history: list[ChatTurn] = [ChatTurn("system", "You are a friendly chat bot in a group chat.")]
        while len(encode_chat(tokenizer, history)) < target:
            history.append(ChatTurn("user", _text(rng, rng.randint(1, 3))))
            history.append(ChatTurn("assistant", _text(rng, rng.randint(1, 5))))
        requests.append(
            BenchRequest(
                conversation_id=f"bench-{index}",
                history=tuple(history),
                new_message=ChatTurn("user", _message_of_tokens(rng, tokenizer, 10, 60)),
                reply_tokens=rng.randint(*reply_tokens),
            )
        )
    return requests


class _FirstTokenClock:
    """A transformers streamer that notes when the first generated token arrives."""

    def __init__(self) -> None:
        self.calls = 0
        self.first_token_at: float | None = None

    def put(self, value: torch.Tensor) -> None:
        self.calls += 1
        if self.calls == 2 and self.first_token_at is None:  # call 1 is the prompt
            self.first_token_at = time.perf_counter()

    def end(self) -> None:
        pass


def run_naive(loaded: LoadedModel, requests: Sequence[BenchRequest]) -> RunFigures:
    """Requests arrive together and are served one at a time with a plain ``generate``."""
    model, tokenizer = loaded.model, loaded.tokenizer
    started = time.perf_counter()
    ttfts, latencies, tokens = [], [], 0
    for request in requests:
        prompt = torch.tensor([encode_chat(tokenizer, request.messages)], device=loaded.device)
        clock = _FirstTokenClock()
        with torch.inference_mode():
            output = model.generate(
                prompt,
                attention_mask=torch.ones_like(prompt),
                max_new_tokens=request.reply_tokens,
                min_new_tokens=request.reply_tokens,
                do_sample=False,
                streamer=clock,
                pad_token_id=tokenizer.eos_token_id,
            )
        finished = time.perf_counter()
        tokens += int(output.shape[1] - prompt.shape[1])
        ttfts.append((clock.first_token_at or finished) - started)
        latencies.append(finished - started)
    return RunFigures(len(requests), tokens, time.perf_counter() - started, tuple(ttfts), tuple(latencies))


def _engine_request(
    request: BenchRequest,
    messages: Sequence[ChatTurn] | None = None,
    tokens: int | None = None,
    conversation: str | None = "same",
) -> GenerationRequest:
    return GenerationRequest(
        messages=tuple(messages if messages is not None else request.messages),
        settings=GenerationSettings(max_new_tokens=tokens or request.reply_tokens, ignore_eos=True),
        conversation_id=request.conversation_id if conversation == "same" else conversation,
    )


async def run_engine(engine: TransformersEngine, requests: Sequence[BenchRequest]) -> RunFigures:
    """All requests submitted at once to the engine; their histories are already cached."""
    started = time.perf_counter()
    results = await asyncio.gather(*(engine.generate(_engine_request(r)) for r in requests))
    wall = time.perf_counter() - started
    return RunFigures(
        len(requests),
        sum(r.completion_tokens for r in results),
        wall,
        tuple(r.time_to_first_token_s or 0.0 for r in results),
        tuple(r.latency_s or 0.0 for r in results),
    )


async def prime(engine: TransformersEngine, requests: Sequence[BenchRequest]) -> None:
    """Let the engine see each conversation's history, as it would have in earlier turns."""
    await asyncio.gather(*(engine.generate(_engine_request(r, r.history, tokens=1)) for r in requests))


async def measure_kv_reuse(engine: TransformersEngine, request: BenchRequest, repeats: int = 3) -> dict[str, float]:
    """Next-turn time to first token of a long conversation, with its cache and without (medians)."""
    warm_times, cold_times = [], []
    for _ in range(repeats):
        engine.forget_conversation(request.conversation_id)
        await prime(engine, [request])
        warm = await engine.generate(_engine_request(request, tokens=1))
        cold = await engine.generate(_engine_request(request, tokens=1, conversation=None))
        warm_times.append(warm.time_to_first_token_s or 0.0)
        cold_times.append(cold.time_to_first_token_s or 0.0)
    warm_s, cold_s = statistics.median(warm_times), statistics.median(cold_times)
    return {
        "history_tokens": cold.prompt_tokens,
        "cached_tokens": warm.cached_prompt_tokens,
        "ttft_with_reuse_s": round(warm_s, 4),
        "ttft_without_reuse_s": round(cold_s, 4),
        "speedup": round(cold_s / warm_s, 2) if warm_s > 0 else 0.0,
    }


async def profile_breakdown(
    engine: TransformersEngine, workload: Sequence[BenchRequest], levels: Sequence[int] = (1, 16), steps: int = 8
) -> list[StepBreakdown]:
    """Per-step time breakdown with 1 and 16 sequences decoding (levels beyond the workload are skipped)."""
    rows = []
    for level in (level for level in levels if level <= len(workload)):
        pending = engine.profile_steps(level, steps)
        # Long enough replies that all sequences decode together for the plain and the profiled steps.
        await asyncio.gather(*(engine.generate(_engine_request(r, tokens=2 * steps + 4)) for r in workload[:level]))
        rows.append(await asyncio.wait_for(pending, timeout=60))
    return rows


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (since `reset_peak_rss`, where it worked), in MiB."""
    high_water = _status_kib("VmHWM")
    if high_water is None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        scale = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes, Linux KiB
        return max(peak * scale, psutil.Process().memory_info().rss) / 2**20
    return high_water / 1024


def reset_peak_rss() -> bool:
    """Start a new peak-memory measurement from the current resident size (Linux); False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return _status_kib("VmHWM") is not None


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _set(report: dict[str, Any], dotted: str, value: Any) -> None:
    report[dotted] = value


async def _run_engine_side(
    settings: EngineSettings,
    loaded: LoadedModel,
    levels: Sequence[int],
    workload: Sequence[BenchRequest],
    long_request: BenchRequest,
    progress: Progress,
) -> tuple[dict[int, RunFigures], dict[str, float], list[StepBreakdown], float]:
    """Figures per level, KV reuse, the step breakdown, and the serving peak RSS (before profiling)."""
    engine = TransformersEngine(settings, loaded=loaded)
    await engine.start()
    try:
        await engine.generate(_engine_request(workload[0], tokens=4, conversation=None))  # warm-up, untimed
        progress(f"Engine: priming {len(workload)} conversations' caches (untimed)...")
        await prime(engine, workload)
        figures = {}
        for level in levels:
            progress(f"Engine: {level} concurrent conversations...")
            figures[level] = await run_engine(engine, workload[:level])
        progress("KV reuse: next turn of a 2,000-token conversation...")
        kv = await measure_kv_reuse(engine, long_request)
        # Read before profiling: torch.profiler's event records are the benchmark's memory, not the engine's.
        serving_peak = peak_rss_mib()
        progress("Per-step breakdown at 1 and 16 sequences (profiled)...")
        breakdown = await profile_breakdown(engine, workload, steps=2 if len(workload) < 16 else 8)
    finally:
        await engine.stop()
    return figures, kv, breakdown, serving_peak


def run_benchmark(
    settings: EngineSettings | None = None,
    concurrency_levels: Sequence[int] = (1, 4, 8, 16),
    seed: int = 20261123,
    json_path: str | Path | None = None,
    progress: Progress = print,
    quick: bool = False,
) -> dict[str, Any]:
    """Run the whole benchmark, print a table, optionally write JSON; return the report dict."""
    settings = settings or EngineSettings()
    if quick:
        concurrency_levels = tuple(level for level in concurrency_levels if level <= 4) or (1,)
    levels = tuple(sorted(set(concurrency_levels)))
    rng = random.Random(seed)
    progress(f"socialbot bench: seed {seed}, {os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}")
    loaded = load_model(settings, progress)
    kv_dtype = str(
        resolve_kv_dtype(settings.kv_dtype, loaded.model.model.embed_tokens.weight.dtype, loaded.device)
    ).removeprefix("torch.")
    progress(
        f"torch threads {torch.get_num_threads()}, device {loaded.device}, dtype {settings.dtype}, "
        f"int8 {settings.quantize_int8}, engine kv cache {kv_dtype}"
    )
    history = (300, 600) if quick else (600, 1500)
    replies = (16, 32) if quick else (32, 128)
    workload = build_workload(loaded.tokenizer, max(levels), rng, history, replies)
    long_target = 1000 if quick else 2000
    long_request = build_workload(loaded.tokenizer, 1, rng, (long_target, long_target), (1, 1))[0]
    long_request = replace(long_request, conversation_id="bench-long")

    # First calls pay one-time kernel set-up; neither side is timed on them.
    run_naive(loaded, [replace(workload[0], reply_tokens=4)])
    naive: dict[int, RunFigures] = {}
    for level in levels:
        progress(f"Naive: {level} requests one after another...")
        naive[level] = run_naive(loaded, workload[:level])
    # The engine's own peak: the naive baseline's full-prompt logits are not the engine's memory.
    naive_peak = peak_rss_mib()
    separate_peaks = reset_peak_rss()
    engine_figures, kv, breakdown, serving_peak = asyncio.run(
        _run_engine_side(
            replace(settings, max_concurrent_sequences=max(settings.max_concurrent_sequences, max(levels))),
            loaded,
            levels,
            workload,
            long_request,
            progress,
        )
    )
    report: dict[str, Any] = {
        **run_header(seed, loaded.device, settings, kv_dtype),
        "quick": quick,
        "concurrency": {},
        "kv_reuse": kv,
        "kv_reuse_ttft_speedup": kv["speedup"],
        # Serving the 16-conversation load (model loaded, every conversation's cache kept), before the
        # profiled breakdown; where the peak cannot be reset (not Linux) the whole process's, naive included.
        "peak_rss_mib": round(serving_peak, 1),
        "peak_rss_scope": "engine" if separate_peaks else "process",
        "naive_peak_rss_mib": round(naive_peak, 1),
        "step_breakdown": {str(row.sequences): row.as_dict() for row in breakdown},
    }
    for level in levels:
        n, e = naive[level], engine_figures[level]
        report["concurrency"][str(level)] = {
            "naive": n.as_dict(),
            "engine": e.as_dict(),
            "throughput_ratio": round(e.throughput / n.throughput, 3) if n.throughput else 0.0,
            "p95_latency_ratio": round(_percentile(e.latency_s, 95) / _percentile(n.latency_s, 95), 3),
            "p95_ttft_ratio": round(_percentile(e.ttft_s, 95) / _percentile(n.ttft_s, 95), 3),
        }
        _set(report, f"concurrency.{level}.throughput_ratio", report["concurrency"][str(level)]["throughput_ratio"])
        _set(report, f"concurrency.{level}.p95_latency_ratio", report["concurrency"][str(level)]["p95_latency_ratio"])
    progress(format_table(report))
    write_json_report(report, json_path, progress)
    return report


def write_json_report(report: dict[str, Any], json_path: str | Path | None, progress: Progress) -> None:
    """The whole report as JSON at `json_path` (when one is given), for scripts that compare runs."""
    if json_path is not None:
        Path(json_path).write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        progress(f"Wrote {json_path}")


def format_table(report: dict[str, Any]) -> str:
    """The benchmark report as a plain-text table."""
    lines = [
        f"seed {report['seed']} | {report['cpu_cores']} CPU cores, {report['torch_threads']} torch threads | "
        f"{report['device']} {report['dtype']} int8={report['quantize_int8']} kv={report.get('kv_dtype', '?')}",
        f"{'conc':>4} {'side':>6} {'tok/s':>8} {'TTFT p50':>9} {'TTFT p95':>9} {'lat p50':>8} {'lat p95':>8}"
        f" {'thr ratio':>9} {'p95 lat ratio':>13}",
    ]
    for level, row in report["concurrency"].items():
        for side in ("naive", "engine"):
            fig = row[side]
            ratios = f" {row['throughput_ratio']:>8.2f}x {row['p95_latency_ratio']:>12.2f}x" if side == "engine" else ""
            lines.append(
                f"{level:>4} {side:>6} {fig['throughput_tok_s']:>8.1f} {fig['ttft_p50_s']:>8.2f}s"
                f" {fig['ttft_p95_s']:>8.2f}s {fig['latency_p50_s']:>7.2f}s {fig['latency_p95_s']:>7.2f}s{ratios}"
            )
    kv = report["kv_reuse"]
    lines.append(
        f"KV reuse, {kv['history_tokens']}-token conversation: TTFT {kv['ttft_without_reuse_s']:.3f}s -> "
        f"{kv['ttft_with_reuse_s']:.3f}s ({kv['speedup']:.1f}x)"
    )
    lines.append(
        f"peak RSS {report['peak_rss_mib']:.0f} MiB ({report.get('peak_rss_scope', 'process')}; "
        f"naive baseline phase {report.get('naive_peak_rss_mib', 0):.0f} MiB)"
    )
    lines.append(format_breakdown([StepBreakdown(**row) for row in report.get("step_breakdown", {}).values()]))
    return "\n".join(lines)


def run_header(seed: int, device: object, settings: EngineSettings, kv_dtype: str) -> dict[str, Any]:
    """What every benchmark report starts with: the seed and the machine and settings it ran under."""
    return {
        "seed": seed,
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "dtype": settings.dtype,
        "quantize_int8": settings.quantize_int8,
        "kv_dtype": kv_dtype,
    }
