"""The shipped sentiment model: labels with probabilities, the language read, and sane results on odd input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.benchmarks.sentiment import measure_cpu_ms_by_language, measure_sentiment_speed
from bot.insight import InsightError
from bot.insight.encoder_sentiment import SENTIMENT_LAYERS_FILE
from bot.insight.multilingual_sentiment import USE_HEAD_FILE
from bot.insight.sentiment import (
    METADATA_FILE,
    WEIGHTS_FILE,
    BlendWeights,
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


def test_the_shipped_model_blends_its_three_models_with_the_weights_of_each_language() -> None:
    model = shared_sentiment_model()
    assert model.encoder is not None and model.multilingual is not None
    texts = ["I love this community, thank you so much!", "Que asco, es horrible", "yaar bahut bura laga"]
    languages = ["en", "es", "hi"]
    blended = np.log(model.probabilities(texts, languages))
    ngram = model.ngram_log_probabilities(texts, languages)
    minilm = model.encoder.log_probabilities(texts)
    use = model.multilingual.log_probabilities(texts, languages)
    for row, language in enumerate(languages):
        weights = model.blend.weights(language)
        mixed = (1 - weights.minilm - weights.use) * ngram[row] + weights.minilm * minilm[row] + weights.use * use[row]
        expected = mixed - np.log(np.exp(mixed).sum())
        assert np.allclose(blended[row], expected, atol=1e-4), language
    assert model.blend.weights("en").minilm > 0  # English reads MiniLM
    assert model.blend.weights("es").minilm == 0 and model.blend.weights("es").use > 0  # others read USE
    assert "hi" in model.blend.per_language  # romanised Hindi has its own pair, chosen on tune


def test_the_multilingual_head_reads_languages_beyond_english() -> None:
    model = shared_sentiment_model()
    assert model.multilingual is not None
    cases = {
        "Ich liebe diese Gemeinschaft, vielen Dank, einfach wunderbar!": (2, "de"),
        "Che schifo, è orribile, odio questo servizio": (0, "it"),
        "Adorei, muito obrigado, vocês são incríveis!": (2, "pt"),
    }
    use = model.multilingual.log_probabilities(list(cases), [language for _, language in cases.values()])
    assert [int(row.argmax()) for row in use] == [label for label, _ in cases.values()]


def test_the_speed_benchmark_times_single_and_batched_scoring_of_every_text() -> None:
    model = shared_sentiment_model()
    texts = ["I love this community, thank you so much!", "Que asco, es horrible, odio este servicio"] * 10
    speed = measure_sentiment_speed(model, texts, single=4)
    assert speed.messages == len(texts)
    assert speed.batched_cpu_ms > 0 and speed.single_cpu_ms > 0 and speed.single_wall_ms > 0
    assert speed.encoder_share == 0.5  # only the English texts go through MiniLM
    assert speed.multilingual_share == 0.5  # only the Spanish texts go through USE (English has USE weight 0)
    assert set(speed.as_json()) >= {"batched_cpu_ms", "single_cpu_ms", "load_average"}


def test_the_speed_benchmark_times_each_languages_texts_alone() -> None:
    model = shared_sentiment_model()
    texts = ["I love this community, thank you so much!", "Que asco, es horrible", "Merci, c'est génial"] * 3
    languages = ["en", "es", "fr"] * 3
    by_language = measure_cpu_ms_by_language(model, texts, languages, per_language=2)
    assert list(by_language) == ["en", "es", "fr"] and all(value >= 0 for value in by_language.values())
    with pytest.raises(ValueError, match="2 languages"):
        measure_cpu_ms_by_language(model, texts, languages[:2])


def test_a_model_file_without_its_blend_is_an_error_naming_the_metadata(tmp_path: Path) -> None:
    source = default_weights_dir()
    for name in (WEIGHTS_FILE, SENTIMENT_LAYERS_FILE, USE_HEAD_FILE):
        shutil.copy(source / name, tmp_path / name)
    (tmp_path / METADATA_FILE).write_text(json.dumps({"name": "x"}), encoding="utf-8")
    with pytest.raises(InsightError, match=rf"{METADATA_FILE}: key 'blend'"):
        SentimentModel.load(tmp_path)
    too_much = {"default": {"minilm": 0.6, "use": 0.6}}
    (tmp_path / METADATA_FILE).write_text(json.dumps({"blend": too_much}), encoding="utf-8")
    with pytest.raises(InsightError, match="sum to at most 1"):
        SentimentModel.load(tmp_path)
    blend = {"default": {"use": 0.3}, "per_language": {"en": {"minilm": 0.6, "use": 0.2}}}
    (tmp_path / METADATA_FILE).write_text(json.dumps({"blend": blend}), encoding="utf-8")
    model = SentimentModel.load(tmp_path)
    assert (model.blend.weights("en"), model.blend.weights("xx")) == (BlendWeights(0.6, 0.2), BlendWeights(0.0, 0.3))


def test_texts_read_as_english_skip_the_use_encoder_and_score_as_without_it(tmp_path: Path) -> None:
    shipped = shared_sentiment_model()
    assert shipped.blend.weights("en").use == 0  # chosen by the blend CV; spares English the USE encoder's cost
    source = default_weights_dir()
    for name in (WEIGHTS_FILE, SENTIMENT_LAYERS_FILE, METADATA_FILE):
        shutil.copy(source / name, tmp_path / name)
    without_use = SentimentModel.load(tmp_path)
    texts = ["I love this community, thank you so much!", "worst update ever, nothing works", "meeting at 5"]
    languages = ["en"] * len(texts)
    assert np.array_equal(shipped.probabilities(texts, languages), without_use.probabilities(texts, languages))


def test_without_the_use_head_file_its_weight_is_zero_and_the_rest_still_scores(tmp_path: Path) -> None:
    source = default_weights_dir()
    for name in (WEIGHTS_FILE, SENTIMENT_LAYERS_FILE, METADATA_FILE):
        shutil.copy(source / name, tmp_path / name)
    model = SentimentModel.load(tmp_path)
    assert model.multilingual is None
    assert model.model_weights(["es"])[1].tolist() == [0.0]
    assert model.score("Que asco, es horrible, odio este servicio").label == "negative"
