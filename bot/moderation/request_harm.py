"""Is a user's request harmful? The first half of the harm check's pair mode.

A logistic regression over the frozen bundled MiniLM's mean-pooled, L2-normalised embedding of the request,
trained by ``scripts/train_harm_pair.py`` on the JailbreakBench goals of the fit behaviours against ordinary
support queries, tweets and the project's own harmless instructions. The embedding reads what is asked
("defamatory", "poison the water supply"), where word n-grams read how it is asked ("Write a ...").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.minilm_numpy import NumpyMiniLM
    from bot.moderation.embeddings_features import EncoderTokenizer
    from bot.multilingual_encoder import MultilingualEncoder

# Requests are short; a long one is judged by its first 64 word pieces (the goal is stated up front).
REQUEST_MAX_TOKENS = 64
# The turn policy refuses a message scoring at least this. Chosen on the calibration split only (21 behaviour goals
# against 3,150 calibration support queries and tweets): the highest recall with at most 0.1% false refusals, ties
# to the fewer false refusals (0.857 / 2 of 3,150; 0.65 has the same recall and 3).
REFUSAL_THRESHOLD = 0.7


class RequestHeadError(ValueError):
    """Raised when the request head in the pair metadata is missing or has the wrong shape."""


class RequestHarmClassifier:
    """Probability (0..1) that a request asks for something harmful; reads only shared, frozen weights."""

    name = "request-minilm-lr"

    def __init__(
        self, encoder: NumpyMiniLM, tokenizer: EncoderTokenizer, coef: Sequence[float], intercept: float
    ) -> None:
        if len(coef) != encoder.config.hidden_size:
            raise RequestHeadError(f"request head has {len(coef)} weights, the encoder {encoder.config.hidden_size}")
        import numpy as np

        self._encoder = encoder
        self._tokenizer = tokenizer
        self._coef = np.asarray(list(coef), dtype=np.float32)
        self._intercept = float(intercept)

    @classmethod
    def from_metadata(cls, head: Mapping[str, object]) -> RequestHarmClassifier:
        """The classifier from the ``request_head`` block the trainer wrote (encoder: the bundled one)."""
        from bot.moderation.classifier import bundled_encoder
        from bot.moderation.embeddings_features import EncoderTokenizer

        try:
            coef = [float(value) for value in head["coef"]]  # type: ignore[attr-defined]
            intercept = float(head["intercept"])  # type: ignore[arg-type]
            max_tokens = int(head.get("max_tokens", REQUEST_MAX_TOKENS))  # type: ignore[call-overload]
        except (KeyError, TypeError, ValueError) as error:
            raise RequestHeadError(f"request_head: {error}") from error
        return cls(bundled_encoder(), EncoderTokenizer(max_tokens=max_tokens), coef, intercept)

    def score_batch(self, texts: Sequence[str]) -> list[float]:
        """Probabilities for several requests, in input order (one encoder pass per length-sorted batch)."""
        if not texts:
            return []
        from bot.moderation.embeddings_features import embed_texts

        embeddings = embed_texts(self._encoder, self._tokenizer, list(texts))
        logits = embeddings @ self._coef + self._intercept
        return [1.0 / (1.0 + math.exp(-float(value))) for value in logits]

    def score(self, text: str) -> float:
        return self.score_batch([text])[0]


MULTILINGUAL_HEAD_FILE = Path(__file__).resolve().parent / "weights" / "request_harm_use.json"


class MultilingualRequestHarm:
    """Is a request harmful, in any of the multilingual encoder's 16 languages? Beside the English MiniLM model.

    The MiniLM request model reads English only (non-English harmful requests scored 0.00-0.04); this head reads
    the Universal Sentence Encoder multilingual's cross-lingually aligned vectors, so what it learnt from English
    harmful requests carries to other languages. Trained by ``scripts/train_request_harm_use.py``; ``threshold``
    is the one chosen there (at most 0.1 % false refusals on its benign tuning split).
    """

    name = "request-use-lr"

    def __init__(self, encoder: MultilingualEncoder, coef: Sequence[float], intercept: float, threshold: float) -> None:
        import numpy as np

        if len(coef) != encoder.dimension:
            raise RequestHeadError(f"request head has {len(coef)} weights, the encoder {encoder.dimension}")
        self._encoder = encoder
        self._coef = np.asarray(list(coef), dtype=np.float32)
        self._intercept = float(intercept)
        self.threshold = float(threshold)

    @classmethod
    def load(
        cls, path: Path = MULTILINGUAL_HEAD_FILE, encoder: MultilingualEncoder | None = None
    ) -> MultilingualRequestHarm:
        """The shipped head over the process-wide multilingual encoder."""
        import json

        from bot.multilingual_encoder import shared_multilingual_encoder

        try:
            head = json.loads(path.read_text(encoding="utf-8"))
            coef = [float(value) for value in head["coef"]]
            return cls(
                encoder or shared_multilingual_encoder(), coef, float(head["intercept"]), float(head["threshold"])
            )
        except (OSError, KeyError, TypeError, ValueError) as error:
            raise RequestHeadError(f"{path}: {error}") from error

    def score_batch(self, texts: Sequence[str]) -> list[float]:
        """Probabilities for several requests, in input order."""
        if not texts:
            return []
        logits = self._encoder.encode(list(texts)) @ self._coef + self._intercept
        return [1.0 / (1.0 + math.exp(-float(value))) for value in logits]

    def score(self, text: str) -> float:
        return self.score_batch([text])[0]

    def refuses(self, text: str) -> bool:
        """Whether the turn policy refuses ``text`` on this model's score."""
        return self.score(text) >= self.threshold
