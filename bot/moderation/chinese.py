"""Offensive-language classifier for Chinese, trained on COLD (``scripts/train_cold.py``).

The English classifier's WordPiece vocabulary turns Chinese into unknown tokens, so the gate routes texts the
shared language detector calls Chinese here instead: character n-grams with a logistic regression.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.moderation.classifier import default_weights_dir
from bot.moderation.linear_text import LinearModelLoadError, LinearTextModel, load_linear_model

COLD_WEIGHTS_FILE = "cold_offensive.npz"
COLD_METADATA_FILE = "cold_offensive.json"


class ChineseOffensiveClassifier:
    """Probability (0..1) that a Chinese text is offensive (COLD's label 1), with its calibrated threshold."""

    name = "cold-char-lr"

    def __init__(self, model: LinearTextModel, threshold: float) -> None:
        self._model = model
        self.threshold = threshold

    @classmethod
    def load(cls, weights_dir: Path | None = None) -> ChineseOffensiveClassifier:
        """Load the shipped weights; raises LinearModelLoadError naming the files and the script."""
        directory = weights_dir or default_weights_dir()
        model, metadata = load_linear_model(
            directory / COLD_WEIGHTS_FILE, directory / COLD_METADATA_FILE, "scripts/train_cold.py"
        )
        try:
            threshold = float(metadata["threshold"])  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError) as error:
            raise LinearModelLoadError(f"{COLD_METADATA_FILE}: no usable threshold: {error}") from error
        return cls(model, threshold)

    def score(self, text: str) -> float:
        return self._model.score(text)

    def score_batch(self, texts: Sequence[str]) -> list[float]:
        return self._model.score_batch(texts)
