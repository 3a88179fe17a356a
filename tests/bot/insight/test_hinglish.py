"""The Hinglish detector: romanised Hindi is scored as Hindi, other languages keep the detector's code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.insight import InsightError
from bot.insight.hinglish import (
    HINGLISH_FEATURES,
    HINGLISH_FILE,
    HinglishDetector,
    HinglishWeights,
    hinglish_counts,
    hinglish_terms,
)
from bot.insight.sentiment import shared_sentiment_model


def test_the_detector_reads_words_and_their_letter_trigrams_not_punctuation_links_or_mentions() -> None:
    terms = hinglish_terms("@user Bahut   ACHA!!! :) http://t.co/x 2day")
    assert terms[:3] == ["bahut", "acha", "day"]
    assert " ba" in terms and "ha " in terms
    assert not any(char in term for term in terms for char in "!:)@/")


def test_the_shipped_model_scores_romanised_hindi_as_hindi_and_reports_the_detected_language() -> None:
    model = shared_sentiment_model()
    assert model.hinglish is not None
    texts = [
        "yaar bahut bura laga, kya bakwas service hai",
        "bhai tum log bahut acche ho, dil se shukriya",
        "I love this community, thank you so much!",
        "Que asco, es horrible, odio este servicio",
        "Sono molto deluso, servizio pessimo",
    ]
    detected = [model.detector.detect(text).code for text in texts]
    assert model.model_languages(texts, detected) == ["hi", "hi", *detected[2:]]
    results = model.score_batch(texts)
    assert [result.language for result in results] == detected  # the output keeps the detector's reading
    assert all(result.label in {"negative", "neutral", "positive"} for result in results)


def test_a_detector_file_of_the_wrong_shape_or_not_a_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / HINGLISH_FILE
    np.savez(path, idf=np.ones(4), coef=np.ones(4), intercept=np.float32(0), threshold=np.float32(0.5))
    with pytest.raises(InsightError, match=HINGLISH_FILE):
        HinglishWeights.read(path)
    path.write_bytes(b"not a zip file")
    with pytest.raises(InsightError, match="cannot read the Hinglish detector"):
        HinglishWeights.read(path)


def test_a_saved_detector_reads_back_and_decides_by_its_threshold(tmp_path: Path) -> None:
    coef = np.zeros(HINGLISH_FEATURES, dtype=np.float32)
    coef[hinglish_counts(["nahi"]).indices] = 2.0  # the columns of "nahi" and its trigrams
    weights = HinglishWeights(np.ones(HINGLISH_FEATURES, dtype=np.float32), coef, -1.0, 0.5)
    weights.save(tmp_path / HINGLISH_FILE)
    detector = HinglishDetector.load(tmp_path / HINGLISH_FILE)
    assert detector.weights.threshold == 0.5 and detector.weights.intercept == -1.0
    assert detector.model_languages(["nahi nahi", "hello there"], ["en", "en"]) == ["hi", "en"]
    assert detector.model_languages([], []) == []
