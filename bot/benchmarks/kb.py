"""Vector search latency at a given knowledge-base size, on random unit vectors (`socialbot kb bench`)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from bot.embeddings import EMBEDDING_DIM
from bot.kb.vectors import VectorIndex


def bench_vector_search(passages: int, queries: int = 200, k: int = 20, seed: int = 0) -> dict[str, Any]:
    """p50/p99 milliseconds of `VectorIndex.search` over `passages` random vectors, top-`k`."""
    rng = np.random.default_rng(seed)
    index = VectorIndex(capacity=passages)
    batch = 10_000
    for start in range(0, passages, batch):
        count = min(batch, passages - start)
        vectors = rng.standard_normal((count, EMBEDDING_DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        index.add(list(range(start, start + count)), vectors)
    probes = rng.standard_normal((queries, EMBEDDING_DIM)).astype(np.float32)
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    index.search(probes[0], k)  # warm-up
    timings = []
    for probe in probes:
        started = time.perf_counter()
        index.search(probe, k)
        timings.append((time.perf_counter() - started) * 1000)
    return {
        "passages": passages,
        "queries": queries,
        "k": k,
        "p50_ms": round(float(np.percentile(timings, 50)), 3),
        "p99_ms": round(float(np.percentile(timings, 99)), 3),
        "memory_mb": round(passages * EMBEDDING_DIM * 4 / 1e6, 1),
    }
