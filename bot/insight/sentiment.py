"""Sentiment of a chat message (negative / neutral / positive) in any of many languages, in a few milliseconds.

The shipped model is a linear classifier over hashed word and character n-grams (`bot.insight.features`),
trained on UMSAB tweets in eight languages by `scripts/train_sentiment.py`. Its weights are one `.npz` file
of plain arrays (no pickle) and a JSON file with its recipe and measured figures.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bot.insight import InsightError
from bot.insight.features import HASH_FEATURES, term_counts, tfidf
from bot.language import LanguageDetector, default_detector

LABELS: tuple[str, str, str] = ("negative", "neutral", "positive")

WEIGHTS_FILE = "sentiment_weights.npz"
# Longer texts are scored on their start: the mood of a message shows early, and n-grams grow with length.
MAX_SCORED_CHARS = 2000
METADATA_FILE = "sentiment_model.json"


def default_weights_dir() -> Path:
    return Path(__file__).resolve().parent / "weights"


@dataclass(frozen=True)
class SentimentResult:
    """One message's sentiment: the winning `label`, the probability of each label, and the language read."""

    label: str
    scores: dict[str, float]
    language: str
    language_reliable: bool

    def as_json(self) -> dict[str, object]:
        return {
            "label": self.label,
            "scores": self.scores,
            "language": self.language,
            "language_reliable": self.language_reliable,
        }


@dataclass(frozen=True)
class LinearWeights:
    """idf per hashed feature, class weights (classes x features) and intercepts."""

    idf: NDArray[np.float32]
    coef: NDArray[np.float32]
    intercept: NDArray[np.float32]

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path, idf=self.idf.astype(np.float16), coef=self.coef.astype(np.float16), intercept=self.intercept
        )

    @classmethod
    def read(cls, path: Path) -> LinearWeights:
        try:
            with np.load(path, allow_pickle=False) as arrays:
                weights = cls(
                    arrays["idf"].astype(np.float32),
                    arrays["coef"].astype(np.float32),
                    arrays["intercept"].astype(np.float32),
                )
        except (OSError, KeyError, ValueError) as exc:
            raise InsightError(f"{path}: cannot read sentiment weights: {exc}") from exc
        if weights.coef.shape != (len(LABELS), HASH_FEATURES) or weights.idf.shape != (HASH_FEATURES,):
            raise InsightError(
                f"{path}: sentiment weights have shape {weights.coef.shape}, not {len(LABELS)}x{HASH_FEATURES}"
            )
        return weights


class SentimentModel:
    """Scores texts; thread-safe, so the bot scores messages in a worker thread while the loop goes on."""

    def __init__(self, weights: LinearWeights, detector: LanguageDetector | None = None, name: str = "") -> None:
        self.weights = weights
        self.detector = detector or default_detector()
        self.name = name or "sentiment"
        self._coef_t = np.ascontiguousarray(weights.coef.T)

    @classmethod
    def load(cls, weights_dir: Path | None = None, detector: LanguageDetector | None = None) -> SentimentModel:
        directory = weights_dir or default_weights_dir()
        weights = LinearWeights.read(directory / WEIGHTS_FILE)
        name = "sentiment"
        metadata_path = directory / METADATA_FILE
        if metadata_path.is_file():
            try:
                name = str(json.loads(metadata_path.read_text(encoding="utf-8")).get("name", name))
            except (OSError, ValueError) as exc:
                raise InsightError(f"{metadata_path}: cannot read sentiment metadata: {exc}") from exc
        return cls(weights, detector, name)

    def probabilities(self, texts: Sequence[str], languages: Sequence[str]) -> NDArray[np.float32]:
        """(len(texts), 3) label probabilities, given each text's language code."""
        features = tfidf(term_counts(list(texts), list(languages)), self.weights.idf)
        logits = np.asarray(features @ self._coef_t) + self.weights.intercept[None, :]
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        result: NDArray[np.float32] = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
        return result

    def score_batch(self, texts: Sequence[str]) -> list[SentimentResult]:
        """One result per text, in order; the language is detected per text."""
        if not texts:
            return []
        texts = [text[:MAX_SCORED_CHARS] for text in texts]
        guesses = [self.detector.detect(text) for text in texts]
        probabilities = self.probabilities(texts, [guess.code for guess in guesses])
        results = []
        for guess, row in zip(guesses, probabilities, strict=True):
            scores = {label: round(float(value), 4) for label, value in zip(LABELS, row, strict=True)}
            results.append(SentimentResult(LABELS[int(row.argmax())], scores, guess.code, guess.reliable))
        return results

    def score(self, text: str) -> SentimentResult:
        return self.score_batch([text])[0]

    def predict_labels(self, texts: Sequence[str]) -> list[int]:
        """Class indices (0 negative, 1 neutral, 2 positive), for evaluation."""
        return [LABELS.index(result.label) for result in self.score_batch(texts)]


_shared: SentimentModel | None = None
_shared_lock = threading.Lock()


def shared_sentiment_model() -> SentimentModel:
    """The process-wide model (loaded once, on first use)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SentimentModel.load()
        return _shared
