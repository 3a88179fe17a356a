"""The shipped sentiment model: labels with probabilities, the language read, and sane results on odd input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.insight import InsightError
from bot.insight.sentiment import WEIGHTS_FILE, SentimentModel, shared_sentiment_model


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
