"""Misspelt question words mapped onto the words the knowledge base actually holds.

A customer who types "cappucino" or "expresso" asks about something the menu names correctly; neither BM25 nor
the sentence encoder (whose WordPiece splits a misspelling into unrelated pieces) finds it, and the question is
declined. `SpellingCorrector` replaces such a word by the closest word of the knowledge base's own vocabulary,
and touches nothing else: a word the knowledge base holds (or a form of it), a common word the encoder knows
whole ("parking", "bicycles": a different thing, not a typo), a short word, or a word with no close match stays
as typed. A word the knowledge base does not hold is never invented ("crossaint" stays "crossaint" when there
are no croissants), so out-of-scope questions are still declined.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_SUFFIXES = ("ing", "es", "ed", "s")
# Shortest word corrected, and the longest word allowed only one edit (longer words are allowed two): a typo in
# a short word is as likely another real word ("cake" / "care").
MIN_LENGTH = 5
ONE_EDIT_MAX_LENGTH = 7


def stem(word: str) -> str:
    """`word` without one common English suffix ("cakes" -> "cak", "ordered" -> "order"), as the answerer
    stems words for overlap."""
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def edit_distance(left: str, right: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions."""
    previous2: list[int] = []
    previous = list(range(len(right) + 1))
    for i, left_char in enumerate(left, 1):
        current = [i] + [0] * len(right)
        for j, right_char in enumerate(right, 1):
            cost = 0 if left_char == right_char else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and left_char == right[j - 2] and left[i - 2] == right_char:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def _deletes(word: str) -> set[str]:
    """`word` and every string one deletion away: two words one edit apart (and many two apart: an insertion and
    a deletion, or two slips in a long word) share one of these."""
    return {word, *(word[:i] + word[i + 1 :] for i in range(len(word)))}


@dataclass
class SpellingCorrector:
    """Corrects question words toward a fixed vocabulary (word -> how often the knowledge base uses it).

    `is_common_word` says whether a word is a real word in its own right (the encoder's WordPiece vocabulary
    holds it whole); such words are never corrected. Lookups go through a one-deletion index, so a question
    costs a few set lookups per unknown word, not a scan of the vocabulary.
    """

    vocabulary: Mapping[str, int]
    is_common_word: Callable[[str], bool] = lambda word: False
    _stems: set[str] = field(init=False, repr=False)
    _by_deletion: dict[str, set[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._stems = {stem(word) for word in self.vocabulary}
        self._by_deletion = {}
        for word in self.vocabulary:
            if len(word) >= MIN_LENGTH - 1:
                for key in _deletes(word):
                    self._by_deletion.setdefault(key, set()).add(word)

    def knows(self, word: str) -> bool:
        """Whether `word` (lowercase) or a form of it is in the vocabulary."""
        return word in self.vocabulary or stem(word) in self._stems

    def correction(self, word: str) -> str | None:
        """The vocabulary word `word` (lowercase) is a misspelling of, or None to leave it as typed."""
        if len(word) < MIN_LENGTH or self.knows(word) or self.is_common_word(word):
            return None
        limit = 1 if len(word) <= ONE_EDIT_MAX_LENGTH else 2
        candidates: set[str] = set()
        for key in _deletes(word):
            candidates |= self._by_deletion.get(key, set())
        scored = [(edit_distance(word, candidate), candidate) for candidate in candidates]
        close = [(distance, candidate) for distance, candidate in scored if distance <= limit]
        if not close:
            return None
        best = min(distance for distance, _ in close)
        tied = sorted(
            (candidate for distance, candidate in close if distance == best),
            key=lambda candidate: (-self.vocabulary[candidate], candidate),
        )
        return tied[0]

    def corrections(self, text: str) -> dict[str, str]:
        """Each misspelt word of `text` (as typed) and the vocabulary word it stands for."""
        found: dict[str, str] = {}
        for match in _WORD.finditer(text):
            typed = match.group()
            corrected = self.correction(typed.lower())
            if corrected is not None:
                found[typed] = corrected
        return found

    def correct(self, text: str) -> str:
        """`text` with its misspelt words replaced (everything else, spacing and punctuation included, kept)."""
        found = self.corrections(text)
        if not found:
            return text
        return _WORD.sub(lambda match: _cased_like(match.group(), found.get(match.group(), match.group())), text)


def _cased_like(typed: str, word: str) -> str:
    return word.capitalize() if typed[:1].isupper() and word.islower() else word


def vocabulary_of(texts: Iterable[str], stopwords: Collection[str] = ()) -> dict[str, int]:
    """How often each lowercase word (letters only, no stopword) occurs in `texts`."""
    counts: dict[str, int] = {}
    for text in texts:
        for word in _WORD.findall(text.lower()):
            if word not in stopwords:
                counts[word] = counts.get(word, 0) + 1
    return counts


@cache
def encoder_words() -> frozenset[str]:
    """The whole words of the bundled encoder's WordPiece vocabulary (about 20,000 common English words); empty
    when the encoder package is not installed, so that nothing is protected from correction then."""
    from bot.embeddings import EmbeddingError, bundled_encoder_dir

    try:
        lines = (bundled_encoder_dir() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    except (EmbeddingError, OSError):
        return frozenset()
    return frozenset(line for line in lines if line.isalpha() and line.islower())
