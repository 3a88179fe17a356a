"""CPU cost of the moderation gate and the sentiment model at one thread: the code at a git revision against the
working tree's, in alternating processes (A B A B), so both see the same load on a shared box.

Each process runs the shipped benchmarks' own functions: ``run_benchmark`` (`socialbot moderate --bench`: texts per
CPU-second in bulk batches, single-message CPU-ms p50) and ``measure_cpu_ms_by_language`` (`socialbot insights
sentiment-speed --by-language`: CPU-ms per UMSAB val tweet of English and of Hindi alone, batched and one at a time).
CPU time of the process, not wall clock: at one thread it does not count waiting for a busy core.

Usage: .venv/bin/python scripts/minilm_int8_speed_against.py REV [--rounds 2]
A measurement script, not part of the product.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

UMSAB = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "umsab"


def measure() -> dict[str, object]:
    import time

    import torch

    from bot.benchmarks.moderation import run_benchmark
    from bot.benchmarks.sentiment import measure_cpu_ms_by_language
    from bot.evaluation.sentiment import read_split
    from bot.insight.sentiment import SentimentModel
    from bot.minilm_int8 import set_kernel_threads
    from bot.moderation.factory import standard_gate

    torch.set_num_threads(1)
    set_kernel_threads(1)
    gate = run_benchmark(standard_gate(), n_batched=640)
    val = read_split(UMSAB, "val")  # this script's copy: an archived revision has no shared/ beside it
    chosen = [index for index, code in enumerate(val.languages) if code in ("en", "hi")]
    texts, languages = [val.texts[index] for index in chosen], [val.languages[index] for index in chosen]
    model = SentimentModel.load()
    single: dict[str, float] = {}
    for code in ("en", "hi"):  # one at a time, as in the benchmark's one_at_a_time (older revisions lack it)
        alone = [text for text, language in zip(texts, languages, strict=True) if language == code][:200]
        model.detector.forget_guesses()
        started = time.process_time()
        for text in alone:
            model.score_batch([text])
        single[code] = round((time.process_time() - started) * 1000 / len(alone), 2)
    return {
        "gate_texts_per_cpu_second": gate.texts_per_cpu_second,
        "gate_single_cpu_ms_p50": gate.latency_cpu_ms_p50,
        "sentiment_batched_cpu_ms": measure_cpu_ms_by_language(model, texts, languages, per_language=200),
        "sentiment_single_cpu_ms": single,
        "load_average": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision", nargs="?")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_only:
        print(json.dumps(measure()))
        return
    if not args.revision:
        parser.error("a revision to compare against is needed")
    root = Path(__file__).resolve().parents[1]
    checkout = Path(tempfile.mkdtemp(prefix="minilm_int8_speed_"))
    archive = subprocess.run(["git", "archive", args.revision], cwd=root, check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(checkout)], input=archive.stdout, check=True)
    try:
        for round_number in range(1, args.rounds + 1):
            for name, tree in ((args.revision, checkout), ("working tree", root)):
                environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(tree)}
                done = subprocess.run(
                    [sys.executable, __file__, "--measure-only"],
                    cwd=tree,
                    env=environment,
                    check=True,
                    capture_output=True,
                    text=True,
                )
                print(f"round {round_number}, {name}: {done.stdout.strip().splitlines()[-1]}", flush=True)
    finally:
        shutil.rmtree(checkout)


if __name__ == "__main__":
    main()
