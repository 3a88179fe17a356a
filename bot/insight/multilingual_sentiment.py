"""The multilingual half of the sentiment model: a linear head over Universal Sentence Encoder vectors.

USE multilingual v3 (`bot.multilingual_encoder`) puts 16 languages in one space, so a head trained on UMSAB's
eight languages reads all of them; the head is language-tagged (the vector once shared and once in its
language's own block, plus a bias per language), so it learns both what all languages share and what one
language adds. One `.npz` of plain arrays (no pickle); `scripts/train_sentiment.py` trains it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bot.insight import InsightError
from bot.insight.labels import LABELS
from bot.multilingual_encoder import MULTILINGUAL_DIM, MultilingualEncoder, shared_multilingual_encoder

USE_HEAD_FILE = "sentiment_use_head.npz"
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_NOISE = re.compile(r"https?://\S+|\bhttp\b|@\w+")
_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">"}


def encoder_text(text: str) -> str:
    """What the encoder reads: escapes decoded, links, @mentions and `#` dropped (words of hashtags kept)."""
    text = _ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), text)
    for entity, char in _ENTITIES.items():
        text = text.replace(entity, char)
    return " ".join(_NOISE.sub(" ", text).replace("#", " ").split())


def tagged_features(vectors: NDArray[np.float32], languages: Sequence[str], tags: Sequence[str]) -> NDArray[np.float32]:
    """[vector, vector in its language's block (zeros elsewhere), one-hot language] per row.

    A language outside `tags` gets only the shared block.
    """
    rows = len(vectors)
    width = MULTILINGUAL_DIM * (1 + len(tags)) + len(tags)
    out = np.zeros((rows, width), dtype=np.float32)
    out[:, :MULTILINGUAL_DIM] = vectors
    position = {tag: index for index, tag in enumerate(tags)}
    for row, language in enumerate(languages):
        index = position.get(language)
        if index is not None:
            start = MULTILINGUAL_DIM * (1 + index)
            out[row, start : start + MULTILINGUAL_DIM] = vectors[row]
            out[row, MULTILINGUAL_DIM * (1 + len(tags)) + index] = 1.0
    return out


@dataclass(frozen=True)
class UseHeadWeights:
    """Class weights (classes x tagged features), intercepts, and the language codes that have their own block."""

    coef: NDArray[np.float32]
    intercept: NDArray[np.float32]
    tags: tuple[str, ...]

    def save(self, path: Path) -> None:
        np.savez_compressed(path, coef=self.coef.astype(np.float16), intercept=self.intercept, tags=np.array(self.tags))

    @classmethod
    def read(cls, path: Path) -> UseHeadWeights:
        try:
            with np.load(path, allow_pickle=False) as arrays:
                weights = cls(
                    arrays["coef"].astype(np.float32),
                    arrays["intercept"].astype(np.float32),
                    tuple(str(tag) for tag in arrays["tags"]),
                )
        except (OSError, KeyError, ValueError) as exc:
            raise InsightError(f"{path}: cannot read the multilingual sentiment head: {exc}") from exc
        width = MULTILINGUAL_DIM * (1 + len(weights.tags)) + len(weights.tags)
        if weights.coef.shape != (len(LABELS), width) or weights.intercept.shape != (len(LABELS),):
            raise InsightError(f"{path}: multilingual head has shape {weights.coef.shape}, not {len(LABELS)}x{width}")
        return weights


class MultilingualSentiment:
    """Label log-probabilities from USE vectors; thread-safe (the encoder locks, the head only reads)."""

    def __init__(self, weights: UseHeadWeights, encoder: MultilingualEncoder | None = None) -> None:
        self.weights = weights
        self.encoder = encoder or shared_multilingual_encoder()
        self._coef_t = np.ascontiguousarray(weights.coef.T)

    @classmethod
    def load(cls, path: Path) -> MultilingualSentiment:
        return cls(UseHeadWeights.read(path))

    def vectors(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return self.encoder.encode([encoder_text(text) for text in texts])

    def log_probabilities_of(self, vectors: NDArray[np.float32], languages: Sequence[str]) -> NDArray[np.float32]:
        """(rows, 3) natural-log label probabilities of already-encoded texts."""
        features = tagged_features(vectors, languages, self.weights.tags)
        logits = features @ self._coef_t + self.weights.intercept[None, :]
        shifted = logits - logits.max(axis=1, keepdims=True)
        result: NDArray[np.float32] = (shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))).astype(np.float32)
        return result

    def log_probabilities(self, texts: Sequence[str], languages: Sequence[str]) -> NDArray[np.float32]:
        """(len(texts), 3) natural-log label probabilities, given each text's language code."""
        return self.log_probabilities_of(self.vectors(texts), languages)
