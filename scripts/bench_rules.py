"""Benchmark auto-reply matching with 10, 100 and 1,000 mixed rules: `python scripts/bench_rules.py`."""

from __future__ import annotations

import argparse

from bot.benchmarks.rules import run_bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--no-semantic", action="store_true", help="Keyword and regex rules only.")
    args = parser.parse_args()
    encoder = None
    if not args.no_semantic:
        from bot.embeddings import shared_encoder

        encoder = shared_encoder().encode
    for result in run_bench(messages=args.messages, encoder=encoder):
        print(
            f"{result.rules:>5} rules  median {result.median_ms:7.3f} ms  p99 {result.p99_ms:7.3f} ms  "
            f"(lookup alone: median {result.match_median_ms:.3f} ms, p99 {result.match_p99_ms:.3f} ms; "
            f"index build {result.build_s:.2f} s, semantic={result.semantic})"
        )


if __name__ == "__main__":
    main()
