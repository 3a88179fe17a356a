"""The sentiment model's n-gram features: the scipy-free scoring path gives the numbers of the trainer's sparse path."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import HashingVectorizer

from bot.insight.features import HASH_FEATURES, hashed_columns, linear_scores, ngrams, term_counts, tfidf
from bot.insight.hinglish import HINGLISH_FEATURES, hinglish_counts, hinglish_terms
from bot.insight.sentiment import shared_sentiment_model

TEXTS = [
    "I LOVE this community!!! thank you so much @user http://t.co/x",
    "yaar bahut bura laga, kya bakwas service hai",
    "Que asco, es horrible, odio este servicio \U0001f621\U0001f621",
    "मुझे यह बहुत पसंद है",
    "ok",
    "",
    "   ",
]


def test_terms_hash_to_the_columns_sklearns_hashing_vectorizer_gives_them() -> None:
    terms = [gram for text in TEXTS for gram in ngrams(text, "en")] + ["", "\x00", "\U0001f621" * 7]
    for n_features in (HASH_FEATURES, HINGLISH_FEATURES, 2):
        hasher = HashingVectorizer(analyzer=lambda document: document, n_features=n_features, alternate_sign=False)
        expected = [int(hasher.transform([[term]]).indices[0]) for term in terms]
        assert hashed_columns(terms, n_features).tolist() == expected


def test_hashing_to_a_width_that_is_not_a_power_of_two_is_refused() -> None:
    with pytest.raises(ValueError, match="power of two"):
        hashed_columns(["word"], 1000)


@pytest.mark.parametrize("copies", [1, 3], ids=["a few rows, hashed here", "many rows, through sklearn"])
def test_linear_scores_equal_the_sparse_tfidf_product_the_trainer_computes(copies: int) -> None:
    model = shared_sentiment_model()
    coef_t = np.ascontiguousarray(model.weights.coef.T)
    texts = TEXTS * copies
    languages = ["en", "hi", "es", "hi", "", "en", "en"] * copies
    sparse_path = np.asarray(tfidf(term_counts(texts, languages), model.weights.idf) @ coef_t)
    scores = linear_scores(
        [ngrams(text, language) for text, language in zip(texts, languages, strict=True)],
        HASH_FEATURES,
        model.weights.idf,
        coef_t,
    )
    assert scores.dtype == np.float32
    np.testing.assert_array_equal(scores, sparse_path)


def test_the_hinglish_detector_gives_the_probabilities_of_its_sparse_features() -> None:
    detector = shared_sentiment_model().hinglish
    assert detector is not None
    for texts in (TEXTS, TEXTS * 3):
        features = tfidf(hinglish_counts(texts), detector.weights.idf)
        logits = np.asarray(features @ detector.weights.coef).ravel() + detector.weights.intercept
        expected = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        np.testing.assert_array_equal(detector.probabilities(texts), expected)
    assert hinglish_terms("") == []


def test_a_text_without_terms_scores_zero() -> None:
    coef_t = np.ones((8, 3), dtype=np.float32)
    assert linear_scores([[], ["a", "b", "a"]], 8, np.ones(8, dtype=np.float32), coef_t)[0].tolist() == [0, 0, 0]
