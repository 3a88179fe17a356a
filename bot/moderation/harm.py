"""Harm check on the bot's own replies: does a reply comply with a harmful request?

It tells harmful compliance (instructions, scam texts, malware, disinformation written on request) from refusals,
replies that dodge, and ordinary chat. The model is a logistic regression over hashed word 1-2-gram and character
3-5-gram TF-IDF blocks (``bot.moderation.linear_text``) trained by ``scripts/train_harm.py`` on JailbreakBench
replies of the fit behaviours plus ordinary text (support queries, tweets in six languages, the project's own
example replies); its threshold was chosen on the calibration behaviours. It is an output check: inputs are never
judged by it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.moderation.classifier import default_weights_dir
from bot.moderation.linear_text import LinearModelLoadError, LinearTextModel, load_linear_model

HARM_WEIGHTS_FILE = "harm_tfidf.npz"
HARM_METADATA_FILE = "harm_classifier.json"
_ELLIPSIS = re.compile(r"\.{3,}|…")
# Shorter replies ("sure", "thanks, done") carry no instructions to block; every harmful JailbreakBench reply has 19+.
MIN_WORDS = 8


def strip_ellipses(text: str) -> str:
    """Drop "..." / "…": the project's own truncated examples must not teach the model that they mean harm."""
    return _ELLIPSIS.sub(" ", text).strip()


class HarmLoadError(RuntimeError):
    """Raised when the harm-check weights are missing or malformed."""


@dataclass(frozen=True)
class HarmMetadata:
    """What ``scripts/train_harm.py`` recorded next to the weights."""

    threshold: float


class HarmClassifier:
    """Probability that a bot reply complies with a harmful request (0..1).

    Deterministic and safe to call from several threads (inference only reads the weights).
    """

    name = "jbb-tfidf-lr"

    def __init__(self, model: LinearTextModel, metadata: HarmMetadata) -> None:
        self._model = model
        self.metadata = metadata

    @property
    def threshold(self) -> float:
        """Score at or above which a reply is blocked (chosen on the calibration behaviours)."""
        return self.metadata.threshold

    @classmethod
    def load(cls, weights_dir: Path | None = None) -> HarmClassifier:
        """Load the shipped weights from ``weights_dir``; errors name the files and the script that rebuilds them."""
        directory = weights_dir or default_weights_dir()
        try:
            model, raw = load_linear_model(
                directory / HARM_WEIGHTS_FILE, directory / HARM_METADATA_FILE, "scripts/train_harm.py"
            )
            metadata = HarmMetadata(float(raw["threshold"]))  # type: ignore[arg-type]
        except (LinearModelLoadError, KeyError, TypeError, ValueError) as error:
            raise HarmLoadError(str(error)) from error
        return cls(model, metadata)

    def score(self, text: str) -> float:
        """Probability that ``text`` (a bot reply) is harmful compliance."""
        return self.score_batch([text])[0]

    @staticmethod
    def judges(text: str) -> bool:
        """Whether the model judges ``text`` at all (replies under MIN_WORDS words score 0)."""
        return len(text.split()) >= MIN_WORDS

    def score_batch(self, texts: Sequence[str]) -> list[float]:
        """Probabilities for several replies, in input order; one pass over the replies long enough to judge."""
        judged = [index for index, text in enumerate(texts) if self.judges(text)]
        scores = [0.0] * len(texts)
        values = self._model.score_batch([strip_ellipses(texts[index]) for index in judged])
        for index, value in zip(judged, values, strict=True):
            scores[index] = value
        return scores

    def is_harmful(self, text: str) -> bool:
        """Whether ``text`` should be blocked at the calibrated threshold."""
        return self.score(text) >= self.threshold
