"""How alike two drafts are, so near-duplicates can be thrown away and regenerated."""

from __future__ import annotations

import itertools
import re

_TOKEN = re.compile(r"\w+")


def _shingles(text: str) -> set[str]:
    words = _TOKEN.findall(text.lower())
    return set(words) | {f"{first} {second}" for first, second in itertools.pairwise(words)}


def jaccard(first: str, second: str) -> float:
    """Jaccard similarity of the words and word pairs of two texts (1.0: same words in the same order)."""
    a, b = _shingles(first), _shingles(second)
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def is_near_duplicate(text: str, others: list[str], threshold: float) -> bool:
    return any(jaccard(text, other) >= threshold for other in others)
