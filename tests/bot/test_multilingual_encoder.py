"""The shared multilingual encoder: one space for many languages, unit vectors, blanks safe."""

from __future__ import annotations

import numpy as np
import pytest

from bot.multilingual_encoder import (
    MULTILINGUAL_DIM,
    TOKEN_CACHE_VARIABLE,
    MultilingualEncoder,
    shared_multilingual_encoder,
)


def test_a_sentence_and_its_translation_are_closer_than_an_unrelated_sentence() -> None:
    vectors = MultilingualEncoder().encode(
        ["Where is my order?", "¿Dónde está mi pedido?", "我的订单在哪里？", "The weather is lovely at the beach."]
    )
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 3] + 0.2
    assert similarity[0, 2] > similarity[0, 3] + 0.2


def test_vectors_are_unit_length_and_blank_texts_get_zero_vectors() -> None:
    vectors = shared_multilingual_encoder().encode(["hello", "", "   ", "bonjour"])
    assert vectors.shape == (4, MULTILINGUAL_DIM)
    norms = np.linalg.norm(vectors, axis=1)
    assert np.allclose(norms[[0, 3]], 1.0, atol=1e-3)
    assert np.all(vectors[[1, 2]] == 0)


def test_one_text_encodes_like_the_same_text_in_a_batch() -> None:
    encoder = shared_multilingual_encoder()
    alone = encoder.encode_one("Ich bin sehr zufrieden")
    batched = encoder.encode(["Ich bin sehr zufrieden", "Das war schlecht"])[0]
    assert float(alone @ batched) > 0.99


def test_the_token_cache_can_be_switched_off_for_the_same_vectors_up_to_rounding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TOKEN_CACHE_VARIABLE, "0")
    plain = MultilingualEncoder()
    assert plain.token_cache is False
    cached = MultilingualEncoder(token_cache=True)
    texts = ["Ich bin sehr zufrieden", "servizio pessimo"]
    assert np.abs(plain.encode(texts) - cached.encode(texts)).max() < 2e-6
