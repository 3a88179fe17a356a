"""Memory follow-ups recognised by meaning: the second stage after the regex patterns of ``bot.memory.recall``.

Patterns miss new phrasings ("Which order was I asking about?") and languages they were not written for. Here a
message counts as asking for a remembered slot when its Universal Sentence Encoder multilingual vector is close
to one of a small, owner-editable set of canonical follow-up questions per slot (``prompts/memory_follow_ups/
<language>.toml``; a same-named file in an owner folder replaces the bundled one). The encoder's 16 languages share
one space, so a Portuguese follow-up is near the English canonical question too. ``FOLLOW_UP_SIMILARITY`` was
chosen by ``scripts/tune_memory_follow_ups.py`` on third-party questions (CLINC150 / Banking77, which must not
be read as follow-ups) and our own follow-ups.
"""

from __future__ import annotations

import logging
import threading
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from bot.memory.extraction import extract_facts
from bot.memory.recall import MAX_QUESTION_CHARS, MemoryQuestion, asks_for_action
from bot.prompts import BUNDLED_PROMPTS_DIR

log = logging.getLogger(__name__)

FOLLOW_UPS_FOLDER = "memory_follow_ups"
# Cosine similarity to the nearest canonical question; chosen on the tuning side only (see the module docstring).
FOLLOW_UP_SIMILARITY = 0.70
# The slot name of contrast examples: questions near a follow-up that ask nothing the person told ("what's your
# name?" asks the bot's). A message nearest to one of them is not a follow-up.
NOT_A_FOLLOW_UP = "not_a_follow_up"


class SentenceEncoder(Protocol):
    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


@dataclass(frozen=True)
class CanonicalFollowUp:
    """One owner-written question that asks for a remembered slot, in its language."""

    kind: str
    language: str
    text: str


@dataclass(frozen=True)
class FollowUpMatch:
    """The nearest canonical question to a message, and how near it is."""

    question: CanonicalFollowUp
    similarity: float


class FollowUpFileError(ValueError):
    """A follow-up file is not valid TOML or a slot is not a list of strings (names the file and slot)."""


def read_follow_up_file(path: Path) -> list[CanonicalFollowUp]:
    """The canonical questions of one language file (its stem is the language code)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise FollowUpFileError(f"{path}: {error}") from error
    questions: list[CanonicalFollowUp] = []
    for kind, texts in data.items():
        if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
            raise FollowUpFileError(f"{path}: {kind} must be a list of questions")
        questions.extend(CanonicalFollowUp(kind, path.stem, text) for text in texts)
    return questions


def load_canonical_follow_ups(folders: Sequence[Path] = ()) -> list[CanonicalFollowUp]:
    """The bundled files, each replaced by a same-named file in an owner folder (``<folder>/memory_follow_ups/``)."""
    files: dict[str, Path] = {}
    for folder in [BUNDLED_PROMPTS_DIR, *folders]:
        for path in sorted((folder / FOLLOW_UPS_FOLDER).glob("*.toml")):
            files[path.stem] = path
    return [question for _, path in sorted(files.items()) for question in read_follow_up_file(path)]


class SemanticFollowUps:
    """Reads a message as a memory follow-up by its similarity to the canonical questions (vectors made once)."""

    def __init__(
        self,
        questions: Sequence[CanonicalFollowUp],
        encoder: SentenceEncoder,
        threshold: float = FOLLOW_UP_SIMILARITY,
    ) -> None:
        self.questions = tuple(questions)
        self.encoder = encoder
        self.threshold = threshold
        self._vectors: NDArray[np.float32] | None = None
        self._lock = threading.Lock()

    def _canonical_vectors(self) -> NDArray[np.float32]:
        with self._lock:
            if self._vectors is None:
                self._vectors = self.encoder.encode([question.text for question in self.questions])
            return self._vectors

    def nearest(self, texts: Sequence[str]) -> list[FollowUpMatch | None]:
        """The nearest canonical question to each text (None for a blank text or without questions)."""
        if not self.questions or not texts:
            return [None] * len(texts)
        similarities = self.encoder.encode(list(texts)) @ self._canonical_vectors().T
        matches: list[FollowUpMatch | None] = []
        for text, row in zip(texts, similarities, strict=True):
            best = int(np.argmax(row))
            matches.append(FollowUpMatch(self.questions[best], float(row[best])) if text.strip() else None)
        return matches

    def question(self, text: str) -> MemoryQuestion | None:
        """The follow-up ``text`` asks, or None: too long, asking for an action, stating the slot itself, or not
        near enough to any canonical question."""
        if not text.strip() or len(text) > MAX_QUESTION_CHARS or asks_for_action(text):
            return None
        match = self.nearest([text])[0]
        if match is None or match.similarity < self.threshold or match.question.kind == NOT_A_FOLLOW_UP:
            return None
        if match.question.kind in {fact.kind for fact in extract_facts(text)}:
            return None  # "my order number is 123" states the slot; it does not ask for it
        return MemoryQuestion(match.question.kind, match.question.language)
