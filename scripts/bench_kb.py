"""Knowledge-base vector search latency at 1k, 10k and 100k passages: `python scripts/bench_kb.py`."""

from __future__ import annotations

import sys

from bot.benchmarks.kb import bench_vector_search


def main(argv: list[str]) -> None:
    sizes = [int(size) for size in argv] or [1_000, 10_000, 100_000]
    for size in sizes:
        result = bench_vector_search(size)
        print(
            f"{result['passages']:>7} passages ({result['memory_mb']} MB): "
            f"p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms (top-{result['k']})"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
