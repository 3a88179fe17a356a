"""`socialbot bench --compare-int8`: float32 against int8 weights, side by side in one run.

Both models are loaded; batch-1 decode runs alternate between them (so load on a shared machine
hits both alike), and a few fixed chat prompts are answered greedily by each to show how often the
int8 model says exactly what the float32 model says.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot.benchmarks.against import decode_rate
from bot.benchmarks.engine import Progress, _engine_request, build_workload, prime, write_json_report
from bot.engine.base import ChatTurn, GenerationRequest, GenerationSettings
from bot.engine.loader import load_model
from bot.engine.settings import EngineSettings
from bot.engine.transformers_engine import TransformersEngine

SYSTEM = ChatTurn("system", "You are a friendly, helpful assistant in a group chat. Answer briefly.")
# Benchmark inputs (not user-facing texts): ordinary chat turns in a few languages.
PROMPTS = (
    "What time does the shop open on Saturdays?",
    "Can you suggest a good movie for tonight?",
    "How do I reset my password?",
    "Explain what a cache is in one sentence.",
    "¿Qué tiempo hace hoy en Madrid?",
    "Wie spät ist es in Berlin?",
)


@dataclass(frozen=True)
class Agreement:
    """How the int8 model's greedy replies compare with the float32 model's."""

    prompts: int
    identical: int
    mean_shared_prefix: float  # fraction of the float32 reply's characters the int8 reply starts with

    def as_dict(self) -> dict[str, float]:
        return {"prompts": self.prompts, "identical": self.identical, "mean_shared_prefix": self.mean_shared_prefix}


def shared_prefix_fraction(reference: str, other: str) -> float:
    """How much of ``reference`` ``other`` starts with (1.0: identical start to end)."""
    if not reference:
        return 1.0 if not other else 0.0
    shared = 0
    for a, b in zip(reference, other, strict=False):
        if a != b:
            break
        shared += 1
    return shared / max(len(reference), len(other))


async def _greedy_replies(engine: TransformersEngine, tokens: int) -> list[str]:
    replies = []
    for prompt in PROMPTS:
        request = GenerationRequest((SYSTEM, ChatTurn("user", prompt)), GenerationSettings(max_new_tokens=tokens))
        replies.append((await engine.generate(request)).text)
    return replies


async def _compare(
    engines: dict[str, TransformersEngine], repeats: int, decode_tokens: int, reply_tokens: int, seed: int
) -> dict[str, Any]:
    tokenizer = engines["float32"].loaded.tokenizer
    request = build_workload(tokenizer, 1, random.Random(seed), (600, 600), (decode_tokens, decode_tokens))[0]
    for engine in engines.values():
        await engine.start()
        await engine.generate(_engine_request(request, tokens=4, conversation=None))  # warm-up, untimed
        await prime(engine, [request])
    rates: dict[str, list[float]] = {name: [] for name in engines}
    cpu_ms: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(repeats):  # alternate, so machine load falls on both alike
        for name, engine in engines.items():
            cpu_started = time.process_time()
            result = await engine.generate(_engine_request(request))
            # CPU time is what other processes' load disturbs least (wall time waits for the cores).
            cpu_ms[name].append(1000 * (time.process_time() - cpu_started) / max(1, result.completion_tokens))
            rates[name].append(
                decode_rate(result.completion_tokens, result.time_to_first_token_s or 0.0, result.latency_s or 0.0)
            )
    replies = {name: await _greedy_replies(engine, reply_tokens) for name, engine in engines.items()}
    for engine in engines.values():
        await engine.stop()
    pairs = list(zip(replies["float32"], replies["int8"], strict=True))
    agreement = Agreement(
        prompts=len(pairs),
        identical=sum(a == b for a, b in pairs),
        mean_shared_prefix=round(statistics.mean(shared_prefix_fraction(a, b) for a, b in pairs), 3),
    )
    decode = {name: round(statistics.median(values), 2) for name, values in rates.items()}
    cpu = {name: round(statistics.median(values), 2) for name, values in cpu_ms.items()}
    return {
        "cpu_ms_per_token_batch1": cpu,
        "cpu_ms_per_token_runs": {name: [round(v, 2) for v in values] for name, values in cpu_ms.items()},
        "decode_batch1_tok_s": decode,
        "decode_batch1_runs": {name: [round(v, 2) for v in values] for name, values in rates.items()},
        "int8_speedup": round(decode["int8"] / decode["float32"], 3) if decode["float32"] else 0.0,
        "agreement": agreement.as_dict(),
        "replies": [{"prompt": p, "float32": a, "int8": b} for p, (a, b) in zip(PROMPTS, pairs, strict=True)],
    }


def compare_int8(
    settings: EngineSettings,
    repeats: int = 3,
    decode_tokens: int = 64,
    reply_tokens: int = 32,
    seed: int = 20261123,
    json_path: str | Path | None = None,
    progress: Progress = print,
) -> dict[str, Any]:
    """Load both models, measure and compare; print a summary, optionally write JSON."""
    base = replace(settings, dtype="float32", device="cpu")
    progress("Loading the float32 and the int8 model...")
    loaded = {
        "float32": load_model(replace(base, quantize_int8=False), progress),
        "int8": load_model(replace(base, quantize_int8=True), progress),
    }
    engines = {name: TransformersEngine(base, loaded=model) for name, model in loaded.items()}
    progress(f"Batch-1 decode, {repeats} alternating runs of {decode_tokens} tokens each; greedy replies...")
    report = asyncio.run(_compare(engines, repeats, decode_tokens, reply_tokens, seed))
    report["int8_kernel"] = type(loaded["int8"].model.model.layers[0].mlp.up_proj).__name__
    decode, agreement = report["decode_batch1_tok_s"], report["agreement"]
    progress(
        f"batch-1 decode: float32 {decode['float32']:.1f} tok/s, int8 {decode['int8']:.1f} tok/s "
        f"({report['int8_speedup']:.2f}x; int8 layers: {report['int8_kernel']})"
    )
    cpu = report["cpu_ms_per_token_batch1"]
    progress(
        f"batch-1 CPU time per token (process time; less disturbed by load): float32 {cpu['float32']:.1f} ms, "
        f"int8 {cpu['int8']:.1f} ms"
    )
    progress(
        f"greedy replies ({reply_tokens} tokens): {agreement['identical']}/{agreement['prompts']} identical, "
        f"mean shared prefix {agreement['mean_shared_prefix']:.0%}"
    )
    write_json_report(report, json_path, progress)
    return report
