"""The in-memory vector index returns exactly what a brute-force search would, through adds and removes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.kb.vectors import VectorIndex, blob_to_vector, vector_to_blob


def _unit(rng: np.random.Generator, count: int) -> np.ndarray:
    vectors = rng.standard_normal((count, 384)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 300), st.integers(0, 299), st.integers(1, 10), st.integers(0, 2**31))
def test_search_matches_brute_force_after_adds_and_removes(count: int, removed: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    vectors = _unit(rng, count)
    index = VectorIndex(capacity=4)
    index.add(list(range(count)), vectors)
    gone = set(range(0, min(removed, count), 3))
    index.remove(sorted(gone))
    query = _unit(rng, 1)[0]
    kept = [i for i in range(count) if i not in gone]
    expected = sorted(kept, key=lambda i: -float(vectors[i] @ query))[:k]
    found = index.search(query, k)
    assert len(index) == len(kept)
    assert [passage_id for passage_id, _ in found] == expected
    assert np.allclose([score for _, score in found], [vectors[i] @ query for i in expected], atol=1e-5)


def test_adding_an_existing_id_replaces_its_vector() -> None:
    rng = np.random.default_rng(1)
    first, second = _unit(rng, 2)
    index = VectorIndex()
    index.add([7], first[None])
    index.add([7], second[None])
    assert len(index) == 1
    assert index.search(second, 1)[0][0] == 7
    assert abs(index.search(second, 1)[0][1] - 1.0) < 1e-5


def test_vectors_survive_the_blob_round_trip() -> None:
    vector = _unit(np.random.default_rng(2), 1)[0]
    assert np.array_equal(blob_to_vector(vector_to_blob(vector)), vector)
