"""Spots Hindi written in Latin letters ("yaar bahut bura laga"), which the bot's language detector reads as English.

Romanised Hindi (Hinglish) is how most Hindi chat is typed, and how all but a handful of UMSAB's Hindi tweets are
written; bot/language.py reads 80 % of them as English and the rest as Dutch, Turkish, German... The sentiment
model then scores them with English weights. This detector is a small linear model over the words of a text and
their letter trigrams (no punctuation or spacing, so it learns vocabulary, not how one corpus was tokenised);
texts it reads as Hinglish are scored with the sentiment model's Hindi weights. One `.npz` of plain arrays (no
pickle), trained by `scripts/train_sentiment.py` on UMSAB's Hindi tweets against the seven other languages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer

from bot.insight import InsightError
from bot.insight.features import normalize

HINGLISH_FILE = "sentiment_hinglish.npz"
HINGLISH_FEATURES = 2**18
HINDI = "hi"
_LETTERS = re.compile(r"[^\W\d_]+")


def hinglish_terms(text: str) -> list[str]:
    """Lower-cased words (letters only; links and mentions dropped) and each word's padded letter trigrams."""
    words = _LETTERS.findall(normalize(text).replace("@user", " ").replace("http", " "))
    return words + [f" {word} "[start : start + 3] for word in words for start in range(len(word))]


_hasher = HashingVectorizer(analyzer=hinglish_terms, n_features=HINGLISH_FEATURES, alternate_sign=False, norm=None)


def hinglish_counts(texts: Sequence[str]) -> sparse.csr_matrix:
    matrix: sparse.csr_matrix = _hasher.transform(list(texts))
    return matrix


@dataclass(frozen=True)
class HinglishWeights:
    """idf per hashed term, the linear weights and intercept of "is romanised Hindi", and the decision threshold."""

    idf: NDArray[np.float32]
    coef: NDArray[np.float32]
    intercept: float
    threshold: float

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            idf=self.idf.astype(np.float16),
            coef=self.coef.astype(np.float16),
            intercept=np.float32(self.intercept),
            threshold=np.float32(self.threshold),
        )

    @classmethod
    def read(cls, path: Path) -> HinglishWeights:
        try:
            with np.load(path, allow_pickle=False) as arrays:
                weights = cls(
                    arrays["idf"].astype(np.float32),
                    arrays["coef"].astype(np.float32),
                    float(arrays["intercept"]),
                    float(arrays["threshold"]),
                )
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise InsightError(f"{path}: cannot read the Hinglish detector: {exc}") from exc
        if weights.coef.shape != (HINGLISH_FEATURES,) or weights.idf.shape != (HINGLISH_FEATURES,):
            raise InsightError(f"{path}: Hinglish detector has shape {weights.coef.shape}, not ({HINGLISH_FEATURES},)")
        return weights


class HinglishDetector:
    """Probability that each text is romanised Hindi; read-only after loading, so safe from several threads."""

    def __init__(self, weights: HinglishWeights) -> None:
        self.weights = weights
        self._coef_column = weights.coef[:, None]

    @classmethod
    def load(cls, path: Path) -> HinglishDetector:
        return cls(HinglishWeights.read(path))

    def probabilities(self, texts: Sequence[str]) -> NDArray[np.float32]:
        from bot.insight.features import linear_scores

        terms = [hinglish_terms(text) for text in texts]
        logits = linear_scores(terms, HINGLISH_FEATURES, self.weights.idf, self._coef_column)[:, 0]
        logits += self.weights.intercept
        result: NDArray[np.float32] = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        return result

    def model_languages(self, texts: Sequence[str], detected: Sequence[str]) -> list[str]:
        """The language each text is scored as: Hindi where it reads as Hinglish, else the detector's code."""
        if not texts:
            return []
        hinglish = self.probabilities(texts) > self.weights.threshold
        return [HINDI if is_hinglish else code for is_hinglish, code in zip(hinglish, detected, strict=True)]
