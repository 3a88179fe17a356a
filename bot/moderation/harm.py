"""Harm check on the bot's own replies: does a reply comply with a harmful request?

Two modes. Pair mode (the gate knows the user message that prompted the reply): harmful compliance is a harmful
request answered by a reply that complies, so the score is P(reply complies) x min(1, 2 x P(harmful request)), from
``bot.moderation.request_harm`` and a compliance model trained on JailbreakBench replies only
(``scripts/train_harm_pair.py``). Reply-only mode (``socialbot moderate`` on single texts, replies with no
request) is the model below.

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
from typing import TYPE_CHECKING

from bot.moderation.classifier import default_weights_dir
from bot.moderation.linear_text import LinearModelLoadError, LinearTextModel, load_linear_model

if TYPE_CHECKING:
    from bot.moderation.request_harm import RequestHarmClassifier

HARM_WEIGHTS_FILE = "harm_tfidf.npz"
HARM_METADATA_FILE = "harm_classifier.json"
COMPLIANCE_WEIGHTS_FILE = "harm_compliance_tfidf.npz"
COMPLIANCE_METADATA_FILE = "harm_compliance.json"
PAIR_METADATA_FILE = "harm_pair.json"
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


@dataclass(frozen=True)
class PairModels:
    """Pair mode's two models and the threshold chosen for their product on the calibration behaviours."""

    request: RequestHarmClassifier
    compliance: LinearTextModel
    threshold: float
    # min(1, request_scale x P(harmful request)) multiplies P(complies): a request judged harmful leaves it whole.
    request_scale: float = 1.0


class HarmClassifier:
    """Probability that a bot reply complies with a harmful request (0..1).

    Deterministic and safe to call from several threads (inference only reads the weights).
    """

    name = "jbb-tfidf-lr"
    pair_name = "harm-pair"

    def __init__(self, model: LinearTextModel, metadata: HarmMetadata, pair: PairModels | None = None) -> None:
        self._model = model
        self.metadata = metadata
        self.pair = pair

    @property
    def pair_threshold(self) -> float | None:
        """Score of ``score_pairs`` at or above which a reply is blocked; None without the pair models."""
        return None if self.pair is None else self.pair.threshold

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
        return cls(model, metadata, load_pair_models(directory))

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

    def score_pairs(self, requests: Sequence[str], replies: Sequence[str]) -> list[float]:
        """Pair-mode probabilities that each reply is harmful compliance with its request, in input order.

        Replies under MIN_WORDS words score 0, as in reply-only mode. Where the request reads as harmless
        (request_scale x P < 1), the reply-only model still judges the reply, its score rescaled so that its own
        threshold lands on the pair threshold (the same rescaling holds under every strictness factor): harmful
        content the bot volunteers after an ordinary question is blocked as before pair mode. Raises
        HarmLoadError without pair models.
        """
        if self.pair is None:
            raise HarmLoadError(
                f"no pair models: rebuild {PAIR_METADATA_FILE} with `python scripts/train_harm_pair.py`"
            )
        judged = [index for index, reply in enumerate(replies) if self.judges(reply)]
        scores = [0.0] * len(replies)
        if not judged:
            return scores
        complies = self.pair.compliance.score_batch([strip_ellipses(replies[index]) for index in judged])
        harmful = self.pair.request.score_batch([requests[index] for index in judged])
        harmless_request = [
            index for index, request in zip(judged, harmful, strict=True) if self.pair.request_scale * request < 1.0
        ]
        alone = dict(
            zip(
                harmless_request,
                self._model.score_batch([strip_ellipses(replies[index]) for index in harmless_request]),
                strict=True,
            )
        )
        rescale = self.pair.threshold / self.threshold
        for index, comply, request in zip(judged, complies, harmful, strict=True):
            pair_score = comply * min(1.0, self.pair.request_scale * request)
            scores[index] = max(pair_score, alone.get(index, 0.0) * rescale)
        return scores

    def is_harmful(self, text: str) -> bool:
        """Whether ``text`` should be blocked at the calibrated threshold."""
        return self.score(text) >= self.threshold


def load_pair_models(directory: Path) -> PairModels | None:
    """Pair mode's models from ``directory``, or None when they were not shipped (reply-only mode then)."""
    import json

    from bot.moderation.request_harm import RequestHarmClassifier, RequestHeadError

    pair_path = directory / PAIR_METADATA_FILE
    if not pair_path.is_file():
        return None
    try:
        raw = json.loads(pair_path.read_text(encoding="utf-8"))
        compliance, _ = load_linear_model(
            directory / COMPLIANCE_WEIGHTS_FILE, directory / COMPLIANCE_METADATA_FILE, "scripts/train_harm_pair.py"
        )
        return PairModels(
            RequestHarmClassifier.from_metadata(raw["request_head"]),
            compliance,
            float(raw["pair_threshold"]),
            float(raw.get("request_scale", 1.0)),
        )
    except (LinearModelLoadError, RequestHeadError, KeyError, TypeError, ValueError) as error:
        raise HarmLoadError(f"{pair_path}: {error}") from error
