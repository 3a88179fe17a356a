"""Knowledge-base fixtures: the small document set in tests/bot/kb/fixtures and a fast, countable encoder."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from bot.kb.answerability import AnswerabilityJudge
from bot.kb.answering import KbAnswerer, KbSettings
from bot.kb.knowledge_base import KnowledgeBase
from bot.prompts import PromptLibrary
from bot.store import Store

FIXTURES = Path(__file__).parent / "fixtures"


class HashingEncoder:
    """A bag-of-words encoder (hashed word counts, unit length) that records what it was asked to embed.

    It keeps ingestion tests fast and lets them assert exactly which passages were (re-)embedded; retrieval
    quality is tested with the real encoder.
    """

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    @property
    def embedded(self) -> list[str]:
        return [text for call in self.calls for text in call]

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> NDArray[np.float32]:
        self.calls.append(list(texts))
        vectors = np.zeros((len(texts), 384), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                vectors[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % 384] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.where(norms == 0, 1.0, norms)).astype(np.float32)


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def hashing_encoder() -> HashingEncoder:
    return HashingEncoder()


@contextmanager
def shipped_answerer(folder: Path, documents: Mapping[str, str]) -> Iterator[KbAnswerer]:
    """An extractive answerer over `documents` written to `folder`: the real encoder, the shipped judge and the
    shipped decline model, as a bot with no model configured answers."""
    for name, text in documents.items():
        (folder / name).write_text(text, encoding="utf-8")
    store = Store.open(folder / "kb.db")
    kb = KnowledgeBase(store, lexical_weight=0.2)
    kb.add_paths([folder])
    try:
        yield KbAnswerer(kb, None, PromptLibrary(), KbSettings(), judge=AnswerabilityJudge.load())
    finally:
        store.close()
