"""Harm check on the bot's own replies: does a reply comply with a harmful request?

It flags replies that go along with requests for weapons or explosives, self-harm methods,
fraud or phishing, malware or intrusion, or drug synthesis, and leaves alone refusals that name
such topics and ordinary replies. The model is a logistic regression over bundled-MiniLM sentence
embeddings (of the whole reply and of its opening sentence) plus a few refusal-phrase indicators,
trained by ``scripts/train_harm.py`` on ``data/harm_train.jsonl``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from bot.moderation.embeddings_features import EncoderTokenizer, MiniLMEncoder, embed_texts

HARM_WEIGHTS_FILE = "harm_classifier.safetensors"
HARM_METADATA_FILE = "harm_classifier.json"
HARM_MAX_TOKENS = 128

_REFUSAL_PATTERNS = (
    r"\b(?:i|we)\s*(?:can(?:no|')?t|cannot|won'?t|will not|am not able|'m not able|am unable|'m unable)\b",
    r"\b(?:i|we)\s*(?:am|'m) not (?:going|willing|allowed|comfortable)\b",
    r"\b(?:not something i|off-limits|i'd rather not|i must decline|i have to decline|isn't something i"
    r"|can'?t do that|won'?t (?:help|do|write|explain|give|share|describe|provide))\b",
    r"\b(?:sorry|unfortunately|nope)\b",
)
_SUPPORT_PATTERNS = (
    r"\b(?:crisis|helpline|hotline|emergency services|counselou?r|poison control|talk to someone)\b",
    r"\b(?:illegal|dangerous|harmful)\b",
)
# A refusal followed by compliance ("I can't officially say this, but here's how ...") is not a refusal.
_COMPLIANCE_AFTER_REFUSAL = re.compile(
    r"\b(?:but|though|however|that said|anyway)\b[^.!?]{0,40}\b(?:here'?s|here is|here are|step 1|first,? (?:you|get))"
)
REFUSAL_GATE_FACTOR = 0.2
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|:\s")
_ELLIPSIS = re.compile(r"\.{3,}|…")


def strip_ellipses(text: str) -> str:
    """Drop "..." / "…": truncated training examples must not teach the model that they mean harm."""
    return _ELLIPSIS.sub(" ", text).strip()


def opening_sentence(text: str) -> str:
    """The reply's first sentence (where a refusal or a "Sure! Here's how" usually sits)."""
    return _SENTENCE_END.split(text.strip(), maxsplit=1)[0]


def cue_features(text: str) -> list[float]:
    """Indicators for refusal phrases (anywhere and in the opening sentence) and support language."""
    lowered = text.lower().replace("’", "'")
    opening = opening_sentence(lowered)
    refusal_anywhere = any(re.search(pattern, lowered) for pattern in _REFUSAL_PATTERNS[:3])
    refusal_opening = any(re.search(pattern, opening) for pattern in _REFUSAL_PATTERNS)
    support = sum(bool(re.search(pattern, lowered)) for pattern in _SUPPORT_PATTERNS)
    return [float(refusal_anywhere), float(refusal_opening), float(support)]


def is_plain_refusal(text: str) -> bool:
    """The reply opens with a refusal and does not go on to comply anyway."""
    lowered = strip_ellipses(text).lower().replace("’", "'")
    opening = opening_sentence(lowered)
    refuses = any(re.search(pattern, opening) for pattern in _REFUSAL_PATTERNS[:3])
    return refuses and _COMPLIANCE_AFTER_REFUSAL.search(lowered) is None


def harm_features(encoder: MiniLMEncoder, tokenizer: EncoderTokenizer, texts: Sequence[str]) -> np.ndarray:
    """Feature matrix: [embedding(reply), embedding(opening sentence), cue indicators]."""
    texts = [strip_ellipses(text) for text in texts]
    whole = embed_texts(encoder, tokenizer, texts)
    opening = embed_texts(encoder, tokenizer, [opening_sentence(text) for text in texts])
    cues = torch.tensor([cue_features(text) for text in texts], dtype=torch.float32)
    features: np.ndarray = torch.cat([whole, opening, cues], dim=1).numpy().astype(np.float64)
    return features


def gate_refusals(text: str, probability: float) -> float:
    """Scale down the score of a plain refusal: naming a harmful topic while declining is harmless."""
    return probability * REFUSAL_GATE_FACTOR if is_plain_refusal(text) else probability


class HarmLoadError(RuntimeError):
    """Raised when the harm-check weights are missing or malformed."""


@dataclass(frozen=True)
class HarmMetadata:
    """What ``scripts/train_harm.py`` recorded next to the weights."""

    threshold: float
    n_features: int


class HarmClassifier:
    """Probability that a bot reply complies with a harmful request (0..1).

    Deterministic and safe to call from several threads (inference only reads the weights);
    never changes torch's global thread settings.
    """

    def __init__(
        self,
        encoder: MiniLMEncoder,
        tokenizer: EncoderTokenizer,
        coefficients: np.ndarray,
        intercept: float,
        metadata: HarmMetadata,
    ) -> None:
        self._encoder = encoder.eval()
        self._tokenizer = tokenizer
        self._coefficients = coefficients
        self._intercept = intercept
        self.metadata = metadata

    @property
    def threshold(self) -> float:
        """Score at or above which a reply should be blocked."""
        return self.metadata.threshold

    @classmethod
    def load(cls, weights_dir: Path | None = None) -> HarmClassifier:
        """Load the bundled encoder and the trained linear model from ``weights_dir``."""
        weights_dir = weights_dir or Path(__file__).resolve().parent / "weights"
        weights_path, metadata_path = weights_dir / HARM_WEIGHTS_FILE, weights_dir / HARM_METADATA_FILE
        if not weights_path.is_file() or not metadata_path.is_file():
            raise HarmLoadError(
                f"{weights_dir}: expected {HARM_WEIGHTS_FILE} and {HARM_METADATA_FILE}; "
                "rebuild them with `python scripts/train_harm.py`"
            )
        raw_metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
        state = load_file(str(weights_path))
        coefficients = state["coefficients"].double().numpy()
        metadata = HarmMetadata(float(raw_metadata["threshold"]), int(raw_metadata["n_features"]))
        if coefficients.shape != (metadata.n_features,):
            raise HarmLoadError(f"{weights_path}: {coefficients.shape[0]} coefficients, expected {metadata.n_features}")
        return cls(
            MiniLMEncoder.from_pretrained(),
            EncoderTokenizer(max_tokens=HARM_MAX_TOKENS),
            coefficients,
            float(state["intercept"].item()),
            metadata,
        )

    def score(self, text: str) -> float:
        """Probability that ``text`` (a bot reply) is harmful compliance."""
        return self.score_batch([text])[0]

    def score_batch(self, texts: Sequence[str]) -> list[float]:
        """Probabilities for several replies, in input order."""
        if not texts:
            return []
        logits = harm_features(self._encoder, self._tokenizer, texts) @ self._coefficients + self._intercept
        probabilities = 1.0 / (1.0 + np.exp(-logits))
        return [gate_refusals(text, float(p)) for text, p in zip(texts, probabilities, strict=True)]

    def is_harmful(self, text: str) -> bool:
        """Whether ``text`` should be blocked at the trained threshold."""
        return self.score(text) >= self.threshold
