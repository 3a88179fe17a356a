"""Small talk recognised by meaning: a message near the curated examples in the multilingual sentence space.

The string match of `bot.policy.small_talk` only takes a message close to an example word by word; a remark, a
question about the bot's tastes or day, or a joke request in other words fell through to the knowledge base and
got a decline. This stage compares the message's multilingual USE vector with every curated example's vector (all
languages, encoded once) and a small logistic head, fitted on third-party intents by
`scripts/fit_small_talk_semantic.py`, reads how close it is. The reply is the curated one of the closest example's
kind. The turn policy runs it only after its harm, business-word and memory checks.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from bot.policy.small_talk import SmallTalkMatch, SmallTalkSet

HEAD_PATH = Path(__file__).with_name("small_talk_semantic.json")
# How many nearest examples the "mean of the closest" features average.
NEAR_COUNTS = (3, 10)
# Longer messages are not small talk however near they are (a story that starts with "hi").
MAX_WORDS = 16
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


class SentenceEncoder(Protocol):
    """Texts to unit vectors (`bot.multilingual_encoder.MultilingualEncoder`)."""

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


@dataclass(frozen=True)
class SemanticHead:
    """The fitted logistic head over `head_features` and the probability from which a message is small talk."""

    weights: tuple[float, ...]
    bias: float
    threshold: float

    @classmethod
    def load(cls, path: Path = HEAD_PATH) -> SemanticHead:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(tuple(float(w) for w in data["weights"]), float(data["bias"]), float(data["threshold"]))

    def probability(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """P(small talk) for each row of `features`."""
        logits = features @ np.asarray(self.weights, dtype=np.float64) + self.bias
        return np.asarray(1.0 / (1.0 + np.exp(-logits)), dtype=np.float64)


def similarity_features(similarities: NDArray[np.float32]) -> NDArray[np.float64]:
    """Per message (row of cosine similarities to every curated example): the closest similarity and the mean
    of the closest `NEAR_COUNTS` ones. Only closeness, never which example: it carries over to kinds no fit saw."""
    ordered = -np.sort(-similarities.astype(np.float64), axis=1)
    columns = [ordered[:, 0]] + [ordered[:, :count].mean(axis=1) for count in NEAR_COUNTS]
    return np.stack(columns, axis=1)


def head_features(vectors: NDArray[np.float32], similarities: NDArray[np.float32]) -> NDArray[np.float64]:
    """What the head reads per message: its 512-d vector, then `similarity_features` (where in the space small
    talk lies in general, and how close the curated examples are)."""
    return np.hstack([vectors.astype(np.float64), similarity_features(similarities)])


def example_text(example_words: Sequence[str]) -> str:
    """An example's normalized words as text again (CJK characters, stored one per word, joined without spaces)."""
    text = ""
    for word in example_words:
        glue = "" if text and _CJK.match(word) and _CJK.match(text[-1]) else " "
        text = f"{text}{glue}{word}" if text else word
    return text


class SemanticSmallTalk:
    """Recognises small talk by meaning against a `SmallTalkSet`; example vectors are encoded on first use."""

    def __init__(self, small_talk: SmallTalkSet, encoder: SentenceEncoder, head: SemanticHead) -> None:
        self.small_talk = small_talk
        self.encoder = encoder
        self.head = head
        self._lock = threading.Lock()
        self._vectors: NDArray[np.float32] | None = None
        self._labels: list[tuple[str, str]] = []  # (kind, language) of each row of _vectors

    def example_vectors(self) -> tuple[NDArray[np.float32], list[tuple[str, str]]]:
        """Every curated example's vector (cached) and its (kind, language)."""
        with self._lock:
            if self._vectors is None:
                texts: list[str] = []
                labels: list[tuple[str, str]] = []
                for kind in self.small_talk.kinds:
                    for example in kind.examples:
                        texts.append(example_text(example))
                        labels.append((kind.name, kind.language))
                self._vectors = self.encoder.encode(texts)
                self._labels = labels
            return self._vectors, self._labels

    def match(self, text: str) -> SmallTalkMatch | None:
        """The closest example's kind when the head takes `text` for small talk, else None. The score is the
        head's probability; the languages are those of the closest examples of that kind."""
        if not text.strip() or len(text.split()) > MAX_WORDS:
            return None
        vectors, labels = self.example_vectors()
        vector = self.encoder.encode([text])
        similarities = (vectors @ vector[0])[None, :]
        probability = float(self.head.probability(head_features(vector, similarities))[0])
        similarities = similarities[0]
        if probability < self.head.threshold:
            return None
        closest = int(np.argmax(similarities))
        kind = labels[closest][0]
        languages = {
            language
            for (name, language), similarity in zip(labels, similarities, strict=True)
            if name == kind and similarity >= similarities[closest] - 0.05
        }
        return SmallTalkMatch(kind, probability, tuple(sorted(languages)))
