"""Is a user's request harmful? The first half of the harm check's pair mode.

A logistic regression over the frozen bundled MiniLM's mean-pooled, L2-normalised embedding of the request,
trained by ``scripts/train_harm_pair.py`` on the JailbreakBench goals of the fit behaviours against ordinary
support queries, tweets and the project's own harmless instructions. The embedding reads what is asked
("defamatory", "poison the water supply"), where word n-grams read how it is asked ("Write a ...").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.minilm_numpy import NumpyMiniLM
    from bot.moderation.embeddings_features import EncoderTokenizer

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
