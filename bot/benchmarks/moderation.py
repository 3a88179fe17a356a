"""Throughput and single-message latency of the whole moderation gate (``socialbot moderate --bench``).

Texts are short chat messages and replies shipped with the package (the benign regression set and the
project's own harm examples), so the figures need no third-party data. Timed figures on a shared machine
are noisy; the benchmark prints the thread count and machine load so a reader can judge them.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from bot.language import default_detector
from bot.moderation.gate import ModerationGate

DATA_DIR = Path(__file__).resolve().parents[1] / "moderation" / "data"


@dataclass(frozen=True)
class GateBenchmark:
    """What ``run_benchmark`` measured."""

    texts_per_second: float
    batch_size: int
    n_batched: int
    latency_ms_p50: float
    latency_ms_p95: float
    n_latency: int
    texts_per_cpu_second: float
    latency_cpu_ms_p50: float
    mean_chars: float
    torch_threads: int
    load_average_before: float
    load_average: float
    bulk: bool = True
    latency_with_request_ms_p50: float = 0.0

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def bench_texts() -> list[str]:
    """Short texts: the benign regression set and the project's own example replies."""
    lines = (DATA_DIR / "benign_regression.txt").read_text(encoding="utf-8").splitlines()
    texts = [line for line in lines if line.strip() and not line.startswith("#")]
    for name in ("harm_eval.jsonl", "harm_train.jsonl"):
        for line in (DATA_DIR / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(str(json.loads(line)["text"]))
    return texts


def run_benchmark(
    gate: ModerationGate, n_batched: int = 1000, batch_size: int = 64, n_latency: int = 200, bulk: bool = True
) -> GateBenchmark:
    """Gate ``n_batched`` texts as outputs in batches (one model pass per batch; bulk mode unless ``bulk`` is
    False), then ``n_latency`` one by one as the bot does."""
    load_before = os.getloadavg()[0]
    base = bench_texts()
    texts = [base[index % len(base)] for index in range(max(n_batched, n_latency))]
    gate.set_bulk(bulk)  # as `socialbot moderate` gates stdin
    gate.check_outputs(texts[:batch_size])  # warm-up: language models, first allocations
    # The texts repeat (641 of them), and the detector keeps its latest guesses: each call detects afresh, as the
    # first reader of a new message does.
    forget = default_detector().forget_guesses
    started, cpu_started = time.perf_counter(), time.process_time()
    for start in range(0, n_batched, batch_size):
        forget()
        gate.check_outputs(texts[start : min(start + batch_size, n_batched)])
    elapsed, cpu_elapsed = time.perf_counter() - started, time.process_time() - cpu_started
    gate.set_bulk(False)  # single messages as the bot sends them
    gate.check_output(texts[0])
    timings, cpu_timings = [], []
    for text in texts[:n_latency]:
        forget()
        one, cpu_one = time.perf_counter(), time.process_time()
        gate.check_output(text)
        timings.append((time.perf_counter() - one) * 1000.0)
        cpu_timings.append((time.process_time() - cpu_one) * 1000.0)
    timings.sort()
    pair_timings = []
    for index, text in enumerate(texts[: n_latency // 2]):
        forget()
        one = time.perf_counter()
        gate.check_output(text, request=texts[index + 1])  # with the user message: the harm check's pair mode
        pair_timings.append((time.perf_counter() - one) * 1000.0)
    return GateBenchmark(
        texts_per_second=round(n_batched / elapsed, 1),
        batch_size=batch_size,
        n_batched=n_batched,
        latency_ms_p50=round(statistics.median(timings), 2),
        latency_ms_p95=round(timings[min(len(timings) - 1, int(len(timings) * 0.95))], 2),
        n_latency=n_latency,
        texts_per_cpu_second=round(n_batched / max(cpu_elapsed, 1e-9), 1),
        latency_cpu_ms_p50=round(statistics.median(cpu_timings), 2),
        mean_chars=round(sum(len(text) for text in texts[:n_batched]) / n_batched, 1),
        torch_threads=torch.get_num_threads(),
        load_average_before=round(load_before, 2),
        load_average=round(os.getloadavg()[0], 2),
        bulk=bulk,
        latency_with_request_ms_p50=round(statistics.median(pair_timings), 2) if pair_timings else 0.0,
    )


def format_benchmark(result: GateBenchmark) -> str:
    return (
        f"moderation gate (outputs: rules, PII, language routing, offensive + harm models)\n"
        f"  throughput: {result.texts_per_second:.1f} texts/s "
        f"({result.n_batched} texts, batches of {result.batch_size}, mean {result.mean_chars:.0f} chars"
        f"{', bulk mode' if result.bulk else ''})\n"
        f"  single message: p50 {result.latency_ms_p50:.2f} ms, p95 {result.latency_ms_p95:.2f} ms "
        f"(n={result.n_latency}); with the user message that prompted it (pair harm check): "
        f"p50 {result.latency_with_request_ms_p50:.2f} ms\n"
        f"  CPU time of this process (less swayed by other load; trust it at --threads 1, as waiting torch "
        f"threads spin and count): {result.texts_per_cpu_second:.1f} texts per CPU-second batched, "
        f"p50 {result.latency_cpu_ms_p50:.2f} "
        f"CPU-ms per single message\n"
        f"  torch threads {result.torch_threads}, {os.cpu_count()} CPUs, 1-minute load average "
        f"{result.load_average_before} before / {result.load_average} after (timings are noisy on a busy box)"
    )
