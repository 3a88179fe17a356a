"""The harm check's language-model stage: a probe on the engine model's own hidden states of the reply it wrote.

Pair mode (``bot.moderation.harm``) scores harmful compliance as P(reply complies) x min(1, scale x P(harmful
request)). This stage replaces P(reply complies) with a logistic stack of pair mode's TF-IDF compliance logit and a
logistic-regression probe on the chat model's mid-layer state of the reply tokens (read after the request, in the
chat template), trained by ``scripts/train_harm_hidden.py ship-oof`` on the fit + calibration behaviours, its
threshold chosen on their out-of-fold scores (never on test). Replies whose request
factor alone keeps them under the threshold are not read by the model (their score cannot reach it): most replies
to ordinary questions cost nothing. The features come from a ``ReplyFeatureSource`` the app passes in (the
in-process engine's ``bot.engine.hidden_states.EngineReplyFeatures``); this module never imports the engine.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from bot.moderation.classifier import default_weights_dir

if TYPE_CHECKING:
    from bot.moderation.harm import HarmClassifier

PROBE_FILE = "harm_hidden_probe.json"
RecipeValue = int | str | bool


class ProbeLoadError(RuntimeError):
    """The probe's weights file is missing or malformed (names the file and the script that rebuilds it)."""


class ReplyFeatureSource(Protocol):
    """Hidden-state features of a reply read after its request, from the model that wrote it.

    ``name`` names that model; ``recipe`` says which layer, pooling and token cuts (``StateRecipe``'s fields).
    """

    @property
    def name(self) -> str: ...

    def reply_features(self, request: str, reply: str, recipe: Mapping[str, RecipeValue]) -> Sequence[float]: ...


@dataclass(frozen=True)
class HiddenStateProbe:
    """The probe's weights: standardisation, logistic regression, the 2-weight stack with TF-IDF, the threshold."""

    recipe: Mapping[str, RecipeValue]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    # z = stack[0] x probe logit + stack[1] x TF-IDF compliance logit + stack[2]; P(complies) = sigmoid(z).
    stack: tuple[float, float, float]
    threshold: float
    feature_model: str

    def with_threshold(self, threshold: float) -> HiddenStateProbe:
        return replace(self, threshold=threshold)

    def complies(self, features: Sequence[float], tfidf_logit: float) -> float:
        """P(reply complies) from its hidden-state features and its TF-IDF compliance logit."""
        vector = (np.asarray(features, dtype=np.float32) - self.mean) / self.scale
        probe_logit = float(vector @ self.coef) + self.intercept
        z = self.stack[0] * probe_logit + self.stack[1] * tfidf_logit + self.stack[2]
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def save(self, path: Path, report: Mapping[str, object]) -> None:
        raw = {
            "model": "P(complies) = sigmoid(stack . [probe logit on hidden states, TF-IDF compliance logit, 1])",
            "feature_model": self.feature_model,
            "state_recipe": dict(self.recipe),
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "coef": [round(float(v), 7) for v in self.coef],
            "intercept": self.intercept,
            "stack": list(self.stack),
            "threshold": self.threshold,
            **report,
        }
        path.write_text(json.dumps(raw, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> HiddenStateProbe:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            mean, scale, coef = (np.array(raw[key], dtype=np.float32) for key in ("mean", "scale", "coef"))
            if not len(mean) == len(scale) == len(coef) or not len(coef):
                raise ValueError("mean, scale and coef must have one equal, non-zero length")
            a, b, c = (float(value) for value in raw["stack"])
            return cls(
                dict(raw["state_recipe"]),
                mean,
                scale,
                coef,
                float(raw["intercept"]),
                (a, b, c),
                float(raw["threshold"]),
                str(raw["feature_model"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ProbeLoadError(
                f"{path}: {error} (rebuild with `python scripts/train_harm_hidden.py ship`)"
            ) from error


class DeepHarmCheck:
    """Pair mode with the language-model stage: the gate's harm check on replies the model generated.

    Safe to call from several threads as far as this class goes (weights are read only); the feature source
    serialises its own model calls.
    """

    name = "harm-lm"

    def __init__(self, harm: HarmClassifier, probe: HiddenStateProbe) -> None:
        if harm.pair is None:
            raise ProbeLoadError("the language-model stage needs pair mode's models (harm_pair.json)")
        self.harm = harm
        self.probe = probe

    @classmethod
    def load(cls, harm: HarmClassifier, weights_dir: Path | None = None) -> DeepHarmCheck:
        return cls(harm, HiddenStateProbe.load((weights_dir or default_weights_dir()) / PROBE_FILE))

    @property
    def threshold(self) -> float:
        return self.probe.threshold

    def score_pairs(
        self, requests: Sequence[str], replies: Sequence[str], source: ReplyFeatureSource, threshold: float
    ) -> list[float]:
        """Harm scores of (request, reply) pairs on the probe's scale; ``threshold`` is the one the caller blocks
        at: a pair whose request factor is below it is not read by the model (its pair score cannot reach it) and
        keeps pair mode's TF-IDF compliance. Replies under MIN_WORDS words score 0. A reply after a harmless
        request is also judged by the reply-only model, rescaled to this threshold (as in pair mode)."""
        pair = self.harm.pair
        assert pair is not None
        judged = [index for index, reply in enumerate(replies) if self.harm.judges(reply)]
        scores = [0.0] * len(replies)
        if not judged:
            return scores
        from bot.moderation.harm import strip_ellipses

        stripped = [strip_ellipses(replies[index]) for index in judged]
        logits = pair.compliance.logits(stripped)
        factors = [
            min(1.0, pair.request_scale * value) for value in pair.request.score_batch([requests[i] for i in judged])
        ]
        alone = self.harm.score_batch(
            [replies[index] for index, factor in zip(judged, factors, strict=True) if factor < 1.0]
        )
        alone_of = iter(alone)
        rescale = self.probe.threshold / self.harm.threshold
        for index, logit, factor in zip(judged, logits, factors, strict=True):
            if factor >= threshold:
                features = source.reply_features(requests[index], replies[index], self.probe.recipe)
                complies = self.probe.complies(features, float(logit))
            else:
                complies = 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, float(logit)))))
            score = complies * factor
            if factor < 1.0:
                score = max(score, next(alone_of) * rescale)
            scores[index] = score
        return scores
