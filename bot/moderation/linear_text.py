"""A hashed TF-IDF n-gram logistic regression: the cheap text classifier behind the harm check and Chinese.

Training (``scripts/train_harm.py``, ``scripts/train_cold.py``) fits scikit-learn's ``HashingVectorizer`` counts,
inverse document frequencies and a logistic regression; :func:`save_linear_model` keeps only the hash buckets
seen in training (indices, idf, weights) in an ``.npz`` next to a JSON of the vectorizer settings, so a shipped
model is a few MB and loading never unpickles anything. Scoring a text costs well under a millisecond.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from bot.minilm_numpy import one_blas_thread

if TYPE_CHECKING:  # scikit-learn and SciPy cost ~1 CPU-s to import: only the first text scored pays it
    from scipy import sparse
    from sklearn.feature_extraction.text import HashingVectorizer

Analyzer = Literal["word", "char", "char_wb"]


class LinearModelLoadError(RuntimeError):
    """Raised when a linear text model's files are missing or do not fit together."""


@dataclass(frozen=True)
class HashedFeatures:
    """How texts become features: n-grams hashed into ``n_features`` buckets (recorded with the weights)."""

    analyzer: Analyzer
    ngram_min: int
    ngram_max: int
    n_features: int
    lowercase: bool = True
    sublinear_tf: bool = True
    stop_words: tuple[str, ...] = ()

    def vectorizer(self) -> HashingVectorizer:
        """The stateless vectorizer (raw counts; idf and normalisation are applied by the model)."""
        from sklearn.feature_extraction.text import HashingVectorizer

        return HashingVectorizer(
            analyzer=self.analyzer,
            ngram_range=(self.ngram_min, self.ngram_max),
            n_features=self.n_features,
            alternate_sign=False,
            norm=None,
            lowercase=self.lowercase,
            stop_words=list(self.stop_words) or None,
            dtype=np.float32,
        )


class LinearTextModel:
    """TF-IDF over hashed n-grams, then a logistic regression: ``score`` is the positive class probability.

    ``features`` is one block of n-grams or several (word and character n-grams side by side): each block is
    weighted by its own idf and L2-normalised on its own, and the blocks are concatenated; ``idf`` and ``coef``
    run over the blocks in order. Stateless after construction and safe to share between threads.
    """

    def __init__(
        self,
        features: HashedFeatures | Sequence[HashedFeatures],
        idf: np.ndarray,
        coef: np.ndarray,
        intercept: float,
    ) -> None:
        self.blocks: tuple[HashedFeatures, ...] = (
            (features,) if isinstance(features, HashedFeatures) else tuple(features)
        )
        if not self.blocks:
            raise LinearModelLoadError("a linear text model needs at least one feature block")
        size = sum(block.n_features for block in self.blocks)
        if idf.shape != (size,) or coef.shape != (size,):
            raise LinearModelLoadError(f"idf/coef must have {size} entries")
        self._vectorizers: list[HashingVectorizer] | None = None
        self._vectorizers_lock = threading.Lock()
        self._starts = np.cumsum([0] + [block.n_features for block in self.blocks])
        self._idf = idf.astype(np.float32)
        self._coef = coef.astype(np.float32)
        self.intercept = float(intercept)

    @property
    def features(self) -> HashedFeatures:
        """The first (for one-block models: the only) feature block."""
        return self.blocks[0]

    @property
    def idf(self) -> np.ndarray:
        """The idf of every bucket, blocks concatenated."""
        return self._idf

    @property
    def coef(self) -> np.ndarray:
        """The regression weight of every bucket, blocks concatenated."""
        return self._coef

    def _block_vectorizers(self) -> list[HashingVectorizer]:
        """The blocks' vectorizers, built on the first text (stateless, so building them once is enough)."""
        with self._vectorizers_lock:
            if self._vectorizers is None:
                self._vectorizers = [block.vectorizer() for block in self.blocks]
                one_blas_thread.cover_new_libraries()
            return self._vectorizers

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """L2-normalised TF-IDF rows for ``texts`` per block, blocks side by side (what the regression saw)."""
        from scipy import sparse

        parts = []
        for index, (block, vectorizer) in enumerate(zip(self.blocks, self._block_vectorizers(), strict=True)):
            weighted = vectorizer.transform(list(texts)).tocsr()
            if block.sublinear_tf:
                weighted.data = np.log(weighted.data) + 1.0
            # idf and norms by indexing, not by a product with a 2^20-square diagonal matrix (8 ms a call).
            weighted.data *= self._idf[self._starts[index] : self._starts[index + 1]][weighted.indices]
            rows = np.repeat(np.arange(weighted.shape[0]), np.diff(weighted.indptr))
            norms = np.sqrt(np.bincount(rows, weights=weighted.data**2, minlength=weighted.shape[0]))
            norms[norms == 0] = 1.0
            weighted.data /= norms[rows].astype(np.float32)
            parts.append(weighted)
        return sparse.csr_matrix(parts[0] if len(parts) == 1 else sparse.hstack(parts, format="csr"))

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Decision values (log-odds) for ``texts``."""
        if not texts:
            return np.zeros(0)
        return np.asarray(self.transform(texts) @ self._coef).ravel() + self.intercept

    def score_batch(self, texts: Sequence[str]) -> list[float]:
        """Positive-class probabilities, in input order."""
        return [float(value) for value in 1.0 / (1.0 + np.exp(-self.logits(texts)))]

    def score(self, text: str) -> float:
        """Positive-class probability of one text."""
        return self.score_batch([text])[0]


def _settings(block: HashedFeatures) -> dict[str, object]:
    return {
        "analyzer": block.analyzer,
        "ngram_min": block.ngram_min,
        "ngram_max": block.ngram_max,
        "n_features": block.n_features,
        "lowercase": block.lowercase,
        "sublinear_tf": block.sublinear_tf,
        "stop_words": list(block.stop_words),
    }


def _block(settings: object) -> HashedFeatures:
    values = dict(settings)  # type: ignore[call-overload]
    values["stop_words"] = tuple(values.get("stop_words", ()))
    return HashedFeatures(**values)


def idf_from_counts(counts: sparse.csr_matrix) -> np.ndarray:
    """Smoothed idf per bucket, as scikit-learn's ``TfidfTransformer(smooth_idf=True)`` computes it."""
    n_docs = counts.shape[0]
    document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
    return (np.log((1.0 + n_docs) / (1.0 + document_frequency)) + 1.0).astype(np.float32)


def save_linear_model(
    model: LinearTextModel, weights_path: Path, metadata_path: Path, metadata: dict[str, object]
) -> None:
    """Write the buckets with a weight (index, idf, coef) as ``.npz`` and settings + ``metadata`` as JSON."""
    coef = model.coef
    idf = model.idf
    unseen_idf = float(np.max(idf))  # the idf of a bucket no training text hit
    used = np.flatnonzero((coef != 0) | (idf < unseen_idf)).astype(np.int32)
    np.savez_compressed(
        weights_path,
        indices=used,
        idf=idf[used].astype(np.float32),
        coef=coef[used].astype(np.float32),
        intercept=np.array([model.intercept], dtype=np.float64),
        unseen_idf=np.array([unseen_idf], dtype=np.float32),
    )
    blocks: dict[str, object] = (
        {"features": _settings(model.blocks[0])}
        if len(model.blocks) == 1
        else {"feature_blocks": [_settings(block) for block in model.blocks]}
    )
    metadata_path.write_text(json.dumps({**blocks, **metadata}, indent=2) + "\n", encoding="utf-8")


def load_linear_model(
    weights_path: Path, metadata_path: Path, train_script: str
) -> tuple[LinearTextModel, dict[str, object]]:
    """The model saved by :func:`save_linear_model` and its metadata; errors name the files and the fix."""
    if not weights_path.is_file() or not metadata_path.is_file():
        raise LinearModelLoadError(
            f"expected {weights_path.name} and {metadata_path.name} in {weights_path.parent}; "
            f"rebuild them with `python {train_script}`"
        )
    try:
        metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
        raw_blocks = metadata["feature_blocks"] if "feature_blocks" in metadata else [metadata["features"]]
        blocks = tuple(_block(settings) for settings in raw_blocks)
    except (ValueError, KeyError, TypeError) as error:
        raise LinearModelLoadError(f"{metadata_path}: unreadable settings: {error}") from error
    size = sum(block.n_features for block in blocks)
    try:
        with np.load(weights_path, allow_pickle=False) as arrays:
            indices, idf_used, coef_used = arrays["indices"], arrays["idf"], arrays["coef"]
            intercept, unseen_idf = float(arrays["intercept"][0]), float(arrays["unseen_idf"][0])
    except (OSError, KeyError, ValueError) as error:
        raise LinearModelLoadError(f"{weights_path}: unreadable weights: {error}") from error
    if len(indices) and (indices.min() < 0 or indices.max() >= size):
        raise LinearModelLoadError(f"{weights_path}: bucket index outside 0..{size - 1}")
    idf = np.full(size, unseen_idf, dtype=np.float32)
    coef = np.zeros(size, dtype=np.float32)
    idf[indices] = idf_used
    coef[indices] = coef_used
    return LinearTextModel(blocks, idf, coef, intercept), metadata
