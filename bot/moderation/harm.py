"""Harm check on the bot's own replies: does a reply comply with a harmful request?

It flags replies that go along with requests for weapons or explosives, self-harm methods,
fraud or phishing, malware or intrusion, or drug synthesis, and leaves alone refusals that name
such topics and ordinary replies. The model is the bundled MiniLM encoder with its top layers and a
linear head fine-tuned by ``scripts/train_harm.py`` on ``data/harm_train.jsonl``; a plain refusal
("I can't help with making explosives, ...") has its score scaled down by a phrase rule.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.moderation.classifier import (
    BinaryHead,
    ClassifierLoadError,
    default_weights_dir,
    read_finetuned_weights,
    score_with_head,
)
from bot.moderation.embeddings_features import EncoderTokenizer, MiniLMEncoder

HARM_LAYERS_FILE = "harm_minilm_layers.safetensors"
HARM_METADATA_FILE = "harm_classifier.json"
HARM_MAX_TOKENS = 128

_REFUSAL_PATTERNS = (
    r"\b(?:i|we)\s*(?:can(?:no|')?t|cannot|won'?t|will not|am not able|'m not able|am unable|'m unable)\b",
    r"\b(?:i|we)\s*(?:am|'m) not (?:going|willing|allowed|comfortable)\b",
    r"\b(?:not something i|off-limits|i'd rather not|i must decline|i have to decline|isn't something i"
    r"|can'?t do that|won'?t (?:help|do|write|explain|give|share|describe|provide))\b",
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


def is_plain_refusal(text: str) -> bool:
    """The reply opens with a refusal and does not go on to comply anyway."""
    lowered = strip_ellipses(text).lower().replace("’", "'")
    opening = opening_sentence(lowered)
    refuses = any(re.search(pattern, opening) for pattern in _REFUSAL_PATTERNS)
    return refuses and _COMPLIANCE_AFTER_REFUSAL.search(lowered) is None


def gate_refusals(text: str, probability: float) -> float:
    """Scale down the score of a plain refusal: naming a harmful topic while declining is harmless."""
    return probability * REFUSAL_GATE_FACTOR if is_plain_refusal(text) else probability


class HarmLoadError(RuntimeError):
    """Raised when the harm-check weights are missing or malformed."""


@dataclass(frozen=True)
class HarmMetadata:
    """What ``scripts/train_harm.py`` recorded next to the weights."""

    threshold: float
    max_tokens: int


class HarmClassifier:
    """Probability that a bot reply complies with a harmful request (0..1).

    Deterministic and safe to call from several threads (inference only reads the weights);
    never changes torch's global thread settings.
    """

    def __init__(
        self, encoder: MiniLMEncoder, head: BinaryHead, tokenizer: EncoderTokenizer, metadata: HarmMetadata
    ) -> None:
        self._encoder = encoder.eval()
        self._head = head.eval()
        self._tokenizer = tokenizer
        self.metadata = metadata

    @property
    def threshold(self) -> float:
        """Score at or above which a reply should be blocked (chosen by cross-validation on train)."""
        return self.metadata.threshold

    @classmethod
    def load(cls, weights_dir: Path | None = None) -> HarmClassifier:
        """Load the bundled encoder plus the fine-tuned layers and head from ``weights_dir``."""
        try:
            encoder, head, raw_metadata = read_finetuned_weights(
                weights_dir or default_weights_dir(), HARM_LAYERS_FILE, HARM_METADATA_FILE, "scripts/train_harm.py"
            )
        except ClassifierLoadError as error:
            raise HarmLoadError(str(error)) from error
        metadata = HarmMetadata(float(raw_metadata["threshold"]), int(raw_metadata["max_tokens"]))
        return cls(encoder, head, EncoderTokenizer(max_tokens=metadata.max_tokens), metadata)

    def score(self, text: str) -> float:
        """Probability that ``text`` (a bot reply) is harmful compliance."""
        return self.score_batch([text])[0]

    def score_batch(self, texts: Sequence[str]) -> list[float]:
        """Probabilities for several replies, in input order."""
        if not texts:
            return []
        raw = score_with_head(self._encoder, self._head, self._tokenizer, [strip_ellipses(t) for t in texts])
        return [gate_refusals(text, probability) for text, probability in zip(texts, raw, strict=True)]

    def is_harmful(self, text: str) -> bool:
        """Whether ``text`` should be blocked at the trained threshold."""
        return self.score(text) >= self.threshold
