"""An in-memory matrix of passage vectors, searched with one matrix-vector product per query.

The vectors live in SQLite as blobs; this index keeps them as one contiguous float32 matrix so a query at
100,000 passages costs a single BLAS call plus `argpartition`, with no Python loop over rows. Rows are added
in place (the matrix grows by doubling) and removed by moving the last row into the hole.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from bot.embeddings import EMBEDDING_DIM


class VectorIndex:
    """Exact cosine search over unit vectors, keyed by passage id; thread-safe."""

    def __init__(self, dim: int = EMBEDDING_DIM, capacity: int = 1024) -> None:
        self.dim = dim
        self._matrix = np.zeros((max(capacity, 1), dim), dtype=np.float32)
        self._ids = np.zeros(max(capacity, 1), dtype=np.int64)
        self._rows: dict[int, int] = {}
        self._size = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._size

    def __contains__(self, passage_id: object) -> bool:
        return passage_id in self._rows

    def add(self, ids: Sequence[int], vectors: NDArray[np.float32]) -> None:
        """Insert or replace the vectors of `ids` (rows of `vectors`, same order)."""
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        with self._lock:
            fresh = [index for index, passage_id in enumerate(ids) if passage_id not in self._rows]
            self._reserve(self._size + len(fresh))
            for index, passage_id in enumerate(ids):
                row = self._rows.get(passage_id)
                if row is None:
                    row = self._size
                    self._rows[passage_id] = row
                    self._ids[row] = passage_id
                    self._size += 1
                self._matrix[row] = vectors[index]

    def remove(self, ids: Sequence[int]) -> None:
        """Drop the vectors of `ids`; unknown ids are ignored."""
        with self._lock:
            for passage_id in ids:
                row = self._rows.pop(passage_id, None)
                if row is None:
                    continue
                last = self._size - 1
                if row != last:
                    moved = int(self._ids[last])
                    self._matrix[row] = self._matrix[last]
                    self._ids[row] = moved
                    self._rows[moved] = row
                self._size = last

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()
            self._size = 0

    def search(self, query: NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        """The `k` passage ids most similar to the unit vector `query`, best first, with cosine scores."""
        with self._lock:
            if self._size == 0 or k <= 0:
                return []
            scores = self._matrix[: self._size] @ np.asarray(query, dtype=np.float32)
            top = np.argpartition(-scores, k - 1)[:k] if k < self._size else np.arange(self._size)
            top = top[np.argsort(-scores[top], kind="stable")]
            return [(int(self._ids[row]), float(scores[row])) for row in top]

    def scores_for(self, query: NDArray[np.float32], ids: Sequence[int]) -> dict[int, float]:
        """Cosine similarity of `query` to each known id in `ids` (for candidates found lexically)."""
        with self._lock:
            known = [(passage_id, self._rows[passage_id]) for passage_id in ids if passage_id in self._rows]
            if not known:
                return {}
            rows = np.fromiter((row for _, row in known), dtype=np.int64, count=len(known))
            scores = self._matrix[rows] @ np.asarray(query, dtype=np.float32)
            return {passage_id: float(score) for (passage_id, _), score in zip(known, scores, strict=True)}

    def all_scores(self, query: NDArray[np.float32]) -> NDArray[np.float32]:
        """Cosine similarity of `query` to every stored vector (in storage order)."""
        with self._lock:
            return self._matrix[: self._size] @ np.asarray(query, dtype=np.float32)

    def vector_of(self, passage_id: int) -> NDArray[np.float32] | None:
        """The stored vector of `passage_id` (a copy), or None when it is not stored."""
        with self._lock:
            row = self._rows.get(passage_id)
            return None if row is None else self._matrix[row].copy()

    def _reserve(self, needed: int) -> None:
        capacity = len(self._ids)
        if needed <= capacity:
            return
        while capacity < needed:
            capacity *= 2
        matrix = np.zeros((capacity, self.dim), dtype=np.float32)
        matrix[: self._size] = self._matrix[: self._size]
        ids = np.zeros(capacity, dtype=np.int64)
        ids[: self._size] = self._ids[: self._size]
        self._matrix, self._ids = matrix, ids


def vector_to_blob(vector: NDArray[np.float32]) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def blob_to_vector(blob: bytes, dim: int = EMBEDDING_DIM) -> NDArray[np.float32]:
    vector = np.frombuffer(blob, dtype="<f4")
    if vector.shape != (dim,):
        raise ValueError(f"stored vector has {vector.size} values, expected {dim}")
    return vector.astype(np.float32, copy=False)
