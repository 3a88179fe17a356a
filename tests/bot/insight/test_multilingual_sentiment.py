"""The USE head of the sentiment model: what the encoder reads, the language-tagged features, its weight file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.insight import InsightError
from bot.insight.multilingual_sentiment import USE_HEAD_FILE, UseHeadWeights, encoder_text, tagged_features
from bot.multilingual_encoder import MULTILINGUAL_DIM


def test_the_encoder_reads_text_without_links_mentions_escapes_or_hash_signs() -> None:
    assert (
        encoder_text("@user I\\u2019m   so happy &amp; proud #winning http://t.co/x") == "I’m so happy & proud winning"
    )
    assert encoder_text("@user http") == ""


def test_each_vector_is_shared_and_repeated_in_its_own_languages_block() -> None:
    vectors = np.arange(2 * MULTILINGUAL_DIM, dtype=np.float32).reshape(2, MULTILINGUAL_DIM)
    features = tagged_features(vectors, ["fr", "xx"], ("en", "fr"))
    assert features.shape == (2, 3 * MULTILINGUAL_DIM + 2)
    assert np.array_equal(features[:, :MULTILINGUAL_DIM], vectors)
    assert np.array_equal(features[0, 2 * MULTILINGUAL_DIM : 3 * MULTILINGUAL_DIM], vectors[0])
    assert not features[0, MULTILINGUAL_DIM : 2 * MULTILINGUAL_DIM].any()
    assert features[0, -2:].tolist() == [0.0, 1.0]
    assert not features[1, MULTILINGUAL_DIM:].any()  # an untagged language gets the shared block only


def test_a_head_of_the_wrong_shape_or_not_a_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / USE_HEAD_FILE
    np.savez(path, coef=np.ones((3, 7)), intercept=np.zeros(3), tags=np.array(["en"]))
    with pytest.raises(InsightError, match=USE_HEAD_FILE):
        UseHeadWeights.read(path)
    path.write_bytes(b"not a zip file")
    with pytest.raises(InsightError, match="cannot read the multilingual sentiment head"):
        UseHeadWeights.read(path)


def test_a_saved_head_reads_back_the_same(tmp_path: Path) -> None:
    width = 2 * MULTILINGUAL_DIM + 1
    weights = UseHeadWeights(
        np.full((3, width), 0.25, dtype=np.float32), np.array([0.1, 0.2, 0.3], np.float32), ("de",)
    )
    weights.save(tmp_path / USE_HEAD_FILE)
    read = UseHeadWeights.read(tmp_path / USE_HEAD_FILE)
    assert (
        read.tags == ("de",) and np.allclose(read.coef, weights.coef) and np.allclose(read.intercept, weights.intercept)
    )
