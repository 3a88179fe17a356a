"""The shipped sentiment model: labels with probabilities, the language read, and sane results on odd input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.benchmarks.sentiment import measure_sentiment_speed
from bot.insight import InsightError
from bot.insight.encoder_sentiment import SENTIMENT_LAYERS_FILE
from bot.insight.sentiment import (
    METADATA_FILE,
    WEIGHTS_FILE,
    SentimentModel,
    default_weights_dir,
    shared_sentiment_model,
)


def test_clear_messages_in_several_languages_get_their_label_and_language() -> None:
    model = shared_sentiment_model()
    cases = {
        "I love this community, thank you so much!": ("positive", "en"),
        "This is the worst update ever, everything is broken and I hate it": ("negative", "en"),
        "Merci beaucoup, c'est génial, j'adore!": ("positive", "fr"),
        "Que asco, es horrible, odio este servicio": ("negative", "es"),
    }
    for text, (label, language) in cases.items():
        result = model.score(text)
        assert (result.label, result.language) == (label, language), (text, result)
        assert abs(sum(result.scores.values()) - 1.0) < 0.01
        assert result.scores[label] == max(result.scores.values())


def test_empty_huge_and_binary_texts_get_a_result_not_a_crash() -> None:
    model = shared_sentiment_model()
    results = model.score_batch(["", "\x00\x01\x02\ufffd", "ha" * 50_000, "🙂🙂🙂"])
    assert len(results) == 4
    assert all(result.label in {"negative", "neutral", "positive"} for result in results)


def test_weights_of_the_wrong_shape_are_an_error_naming_the_file(tmp_path: Path) -> None:
    np.savez(tmp_path / WEIGHTS_FILE, idf=np.ones(4), coef=np.ones((3, 4)), intercept=np.zeros(3))
    with pytest.raises(InsightError, match=WEIGHTS_FILE):
        SentimentModel.load(tmp_path)
    (tmp_path / WEIGHTS_FILE).write_bytes(b"not a zip file")
    with pytest.raises(InsightError, match="cannot read sentiment weights"):
        SentimentModel.load(tmp_path)


def test_the_shipped_model_blends_the_encoder_with_the_ngram_model_per_language() -> None:
    model = shared_sentiment_model()
    assert model.encoder is not None
    texts = ["I love this community, thank you so much!", "Que asco, es horrible"]
    languages = ["en", "es"]
    blended = model.probabilities(texts, languages)
    ngram_only = np.exp(model.ngram_log_probabilities(texts, languages))
    encoder_only = np.exp(model.encoder.log_probabilities(texts))
    assert np.allclose(blended.sum(axis=1), 1.0, atol=1e-4)
    assert np.allclose(encoder_only.sum(axis=1), 1.0, atol=1e-4)
    weighted = [language for language in languages if 0 < model.blend.weight(language) < 1]
    if weighted:  # a blended language sits between its two models, not on either
        row = languages.index(weighted[0])
        assert not np.allclose(blended[row], ngram_only[row]) and not np.allclose(blended[row], encoder_only[row])
    for row, language in enumerate(languages):
        if model.blend.weight(language) == 0:  # a language the encoder does not help is the n-gram model's alone
            assert np.allclose(blended[row], ngram_only[row], atol=1e-5)


def test_the_speed_benchmark_times_single_and_batched_scoring_of_every_text() -> None:
    model = shared_sentiment_model()
    texts = ["I love this community, thank you so much!", "Que asco, es horrible, odio este servicio"] * 10
    speed = measure_sentiment_speed(model, texts, single=4)
    assert speed.messages == len(texts)
    assert speed.batched_cpu_ms > 0 and speed.single_cpu_ms > 0 and speed.single_wall_ms > 0
    assert speed.encoder_share == 0.5  # only the English texts go through the encoder
    assert set(speed.as_json()) >= {"batched_cpu_ms", "single_cpu_ms", "load_average"}


def test_an_encoder_file_without_its_blend_is_an_error_naming_the_metadata(tmp_path: Path) -> None:
    source = default_weights_dir()
    for name in (WEIGHTS_FILE, SENTIMENT_LAYERS_FILE):
        shutil.copy(source / name, tmp_path / name)
    (tmp_path / METADATA_FILE).write_text(json.dumps({"name": "x"}), encoding="utf-8")
    with pytest.raises(InsightError, match=rf"{METADATA_FILE}: key 'blend'"):
        SentimentModel.load(tmp_path)
    (tmp_path / METADATA_FILE).write_text(json.dumps({"blend": {"default": 0.3, "per_language": {"en": 0.6}}}))
    model = SentimentModel.load(tmp_path)
    assert (model.blend.weight("en"), model.blend.weight("xx")) == (0.6, 0.3)
