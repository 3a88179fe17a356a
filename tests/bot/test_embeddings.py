"""The bundled sentence encoder: the vectors sentence-transformers gives, from the weights the classifiers hold."""

from __future__ import annotations

import numpy as np
import pytest

from bot.embeddings import SentenceEncoder, bundled_encoder_dir
from bot.moderation.classifier import bundled_encoder
from bot.moderation.embeddings_features import shared_bundled_encoder

TEXTS = [
    "How much is delivery?",
    "¿Dónde está mi pedido? 😀",
    "visit https://example.com/a?b=c now",
    "word " * 300,
    "我的订单在哪里",
]


@pytest.mark.slow
@pytest.mark.usefixtures("float_minilm")
def test_bundled_vectors_equal_the_ones_sentence_transformers_computes() -> None:
    from sentence_transformers import SentenceTransformer

    ours = SentenceEncoder().encode(TEXTS)
    reference = SentenceTransformer(str(bundled_encoder_dir()), device="cpu").encode(TEXTS, normalize_embeddings=True)
    assert ours.shape == (len(TEXTS), 384)
    assert float(np.abs(ours - reference).max()) < 1e-5


def test_bundled_vectors_are_unit_length_in_input_order_and_the_classifiers_share_the_weights() -> None:
    encoder = SentenceEncoder()
    vectors = encoder.encode(["a long sentence about parcels and delivery times", "hi"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vectors[1] @ encoder.encode_one("hi")) > 0.9999
    assert bundled_encoder() is shared_bundled_encoder()
    assert encoder.dimension == 384
