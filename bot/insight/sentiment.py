"""Sentiment of a chat message (negative / neutral / positive) in any of many languages, in a few milliseconds.

The shipped model blends three classifiers trained on UMSAB tweets in eight languages by
`scripts/train_sentiment.py`: a linear model over hashed word and character n-grams (`bot.insight.features`,
one `.npz` of plain arrays, no pickle), the bundled English MiniLM encoder with a fine-tuned top layer
(`bot.insight.encoder_sentiment`) and a linear head over Universal Sentence Encoder multilingual vectors
(`bot.insight.multilingual_sentiment`). Their log-probabilities are mixed with weights per language chosen on the
tuning split (one pair for English, one for Hindi, one for all others), recorded with the recipe and measured
figures in a JSON file. Romanised Hindi, which the language detector reads as English or another Latin-script
language, is spotted by `bot.insight.hinglish` and scored as Hindi. A model whose file is missing gets weight 0;
without any, the n-gram model scores alone.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from bot.insight import InsightError
from bot.insight.labels import LABELS
from bot.language import LanguageDetector, default_detector

if TYPE_CHECKING:
    from bot.insight.encoder_sentiment import EncoderSentiment
    from bot.insight.hinglish import HinglishDetector
    from bot.insight.multilingual_sentiment import MultilingualSentiment

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
        from bot.insight.features import HASH_FEATURES

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


@dataclass(frozen=True)
class BlendWeights:
    """How much of one language's log-probabilities comes from each neural model; the n-gram model gets the rest."""

    minilm: float
    use: float

    def as_json(self) -> dict[str, float]:
        return {"minilm": self.minilm, "use": self.use}

    @classmethod
    def from_json(cls, raw: object) -> BlendWeights:
        if not isinstance(raw, dict):
            raise TypeError(f"{raw!r} is not an object")
        weights = cls(float(raw.get("minilm", 0.0)), float(raw.get("use", 0.0)))
        if min(weights.minilm, weights.use) < 0 or weights.minilm + weights.use > 1 + 1e-6:
            raise ValueError(f"{raw!r}: weights must be >= 0 and sum to at most 1")
        return weights


NGRAM_ONLY = BlendWeights(0.0, 0.0)


@dataclass(frozen=True)
class ModelBlend:
    """The blend weights per language code; a language the tuning split did not cover uses `default`."""

    default: BlendWeights
    per_language: dict[str, BlendWeights]

    def weights(self, language: str) -> BlendWeights:
        return self.per_language.get(language, self.default)

    def as_json(self) -> dict[str, object]:
        return {
            "default": self.default.as_json(),
            "per_language": {code: weights.as_json() for code, weights in self.per_language.items()},
        }

    @classmethod
    def from_json(cls, raw: object, source: Path) -> ModelBlend:
        try:
            if not isinstance(raw, dict):
                raise TypeError("not an object")
            per_language = {
                str(code): BlendWeights.from_json(value) for code, value in dict(raw.get("per_language", {})).items()
            }
            return cls(BlendWeights.from_json(raw["default"]), per_language)
        except (KeyError, TypeError, ValueError) as exc:
            raise InsightError(
                f"{source}: key 'blend' must be {{default, per_language}} of {{minilm, use}} weights: {exc}"
            ) from exc


def _softmax(logits: NDArray[np.float32]) -> NDArray[np.float32]:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    result: NDArray[np.float32] = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
    return result


class SentimentModel:
    """Scores texts; thread-safe, so the bot scores messages in a worker thread while the loop goes on."""

    def __init__(
        self,
        weights: LinearWeights,
        detector: LanguageDetector | None = None,
        name: str = "",
        encoder: EncoderSentiment | None = None,
        blend: ModelBlend | None = None,
        multilingual: MultilingualSentiment | None = None,
        hinglish: HinglishDetector | None = None,
    ) -> None:
        self.weights = weights
        self.detector = detector or default_detector()
        self.name = name or "sentiment"
        self.encoder = encoder
        self.multilingual = multilingual
        self.hinglish = hinglish
        self.blend = blend or ModelBlend(NGRAM_ONLY, {})
        self._coef_t = np.ascontiguousarray(weights.coef.T)

    @classmethod
    def load(cls, weights_dir: Path | None = None, detector: LanguageDetector | None = None) -> SentimentModel:
        directory = weights_dir or default_weights_dir()
        weights = LinearWeights.read(directory / WEIGHTS_FILE)
        metadata: dict[str, object] = {}
        metadata_path = directory / METADATA_FILE
        if metadata_path.is_file():
            try:
                metadata = dict(json.loads(metadata_path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError) as exc:
                raise InsightError(f"{metadata_path}: cannot read sentiment metadata: {exc}") from exc
        from bot.insight.encoder_sentiment import SENTIMENT_LAYERS_FILE, EncoderSentiment  # torch: only when loading
        from bot.insight.hinglish import HINGLISH_FILE, HinglishDetector
        from bot.insight.multilingual_sentiment import USE_HEAD_FILE, MultilingualSentiment

        encoder = None
        multilingual = None
        blend = None
        if (directory / SENTIMENT_LAYERS_FILE).is_file():
            encoder = EncoderSentiment.load(directory / SENTIMENT_LAYERS_FILE)
        if (directory / USE_HEAD_FILE).is_file():
            multilingual = MultilingualSentiment.load(directory / USE_HEAD_FILE)
        hinglish = HinglishDetector.load(directory / HINGLISH_FILE) if (directory / HINGLISH_FILE).is_file() else None
        if encoder is not None or multilingual is not None:
            blend = ModelBlend.from_json(metadata.get("blend"), metadata_path)
        name = str(metadata.get("name", "sentiment"))
        return cls(weights, detector, name, encoder, blend, multilingual, hinglish)

    def model_languages(self, texts: Sequence[str], detected: Sequence[str]) -> list[str]:
        """The language code each text is scored as: the detector's, or Hindi where it reads as romanised Hindi."""
        if self.hinglish is None:
            return list(detected)
        return self.hinglish.model_languages(texts, detected)

    def ngram_log_probabilities(self, texts: Sequence[str], languages: Sequence[str]) -> NDArray[np.float32]:
        """(len(texts), 3) log-probabilities of the n-gram model alone, given each text's language code."""
        from bot.insight.features import HASH_FEATURES, linear_scores, ngrams

        terms = [ngrams(text, language) for text, language in zip(texts, languages, strict=True)]
        logits = linear_scores(terms, HASH_FEATURES, self.weights.idf, self._coef_t) + self.weights.intercept[None, :]
        shifted = logits - logits.max(axis=1, keepdims=True)
        result: NDArray[np.float32] = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return result

    def model_weights(self, languages: Sequence[str]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Per text, the weight of the MiniLM model and of the USE model actually applied (0 where one is missing)."""
        chosen = [self.blend.weights(language) for language in languages]
        minilm = np.asarray([w.minilm if self.encoder is not None else 0.0 for w in chosen], dtype=np.float32)
        use = np.asarray([w.use if self.multilingual is not None else 0.0 for w in chosen], dtype=np.float32)
        return minilm, use

    def probabilities(self, texts: Sequence[str], languages: Sequence[str]) -> NDArray[np.float32]:
        """(len(texts), 3) label probabilities, given each text's language code."""
        blended = self.ngram_log_probabilities(texts, languages)
        minilm, use = self.model_weights(languages)
        blended *= (1.0 - minilm - use)[:, None]
        # A model with weight 0 for a text's language is not run for it: its cost is skipped.
        if self.encoder is not None and (rows := np.flatnonzero(minilm > 0)).size:
            log_p = self.encoder.log_probabilities([texts[int(row)] for row in rows])
            blended[rows] += minilm[rows, None] * log_p
        if self.multilingual is not None and (rows := np.flatnonzero(use > 0)).size:
            log_p = self.multilingual.log_probabilities(
                [texts[int(row)] for row in rows], [languages[int(row)] for row in rows]
            )
            blended[rows] += use[rows, None] * log_p
        return _softmax(blended)

    def score_batch(self, texts: Sequence[str]) -> list[SentimentResult]:
        """One result per text, in order; the language is detected per text."""
        if not texts:
            return []
        texts = [text[:MAX_SCORED_CHARS] for text in texts]
        guesses = [self.detector.detect(text) for text in texts]
        probabilities = self.probabilities(texts, self.model_languages(texts, [guess.code for guess in guesses]))
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
