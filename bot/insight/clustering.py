"""Groups of similar messages (by sentence embedding) with readable labels: shared by topics and knowledge gaps."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Embed = Callable[[Sequence[str]], NDArray[np.float32]]

_WORD = re.compile(r"[^\W\d_]{3,}")
# Words too common to name a topic; the rest of the label comes from what is frequent in a group but not overall.
_COMMON = frozenset(
    [
        "the",
        "and",
        "for",
        "you",
        "are",
        "this",
        "that",
        "with",
        "have",
        "has",
        "was",
        "were",
        "what",
        "when",
        "where",
        "how",
        "why",
        "who",
        "which",
        "can",
        "could",
        "would",
        "should",
        "will",
        "not",
        "but",
        "all",
        "any",
        "our",
        "your",
        "their",
        "there",
        "here",
        "just",
        "about",
        "from",
        "they",
        "them",
        "then",
        "than",
        "its",
        "it's",
        "does",
        "did",
        "get",
        "got",
        "also",
        "very",
        "more",
        "some",
        "much",
        "been",
        "into",
        "out",
        "one",
        "two",
        "now",
        "too",
        "yes",
        "please",
        "thanks",
        "thank",
        "hello",
        "les",
        "des",
        "est",
        "une",
        "que",
        "qui",
        "pour",
        "pas",
        "sur",
        "dans",
        "par",
        "avec",
        "der",
        "die",
        "das",
        "und",
        "ist",
        "nicht",
        "ein",
        "eine",
        "mit",
        "los",
        "las",
        "una",
        "por",
        "con",
        "para",
        "del",
        "que",
        "non",
        "per",
        "che",
        "gli",
        "della",
        "com",
        "uma",
        "não",
    ]
)


@dataclass(frozen=True)
class Cluster:
    """Indices of the texts in one group (most central first) and its label of top terms."""

    members: tuple[int, ...]
    label: str
    centroid: NDArray[np.float32]

    @property
    def size(self) -> int:
        return len(self.members)


def _terms(text: str) -> list[str]:
    return [word for word in _WORD.findall(text.lower()) if word not in _COMMON]


def top_terms(texts: Sequence[str], member_indices: Sequence[int], overall: Counter[str], count: int = 3) -> str:
    """The words most over-represented in the group compared with all texts (at least twice in the group)."""
    inside: Counter[str] = Counter()
    for index in member_indices:
        inside.update(set(_terms(texts[index])))
    total = max(1, sum(overall.values()))
    size = max(1, len(member_indices))
    scored = [(share / size - overall[word] / total, word) for word, share in inside.items() if share >= min(2, size)]
    words = [word for _, word in sorted(scored, reverse=True)[:count]]
    return ", ".join(words) if words else (texts[member_indices[0]][:40] if member_indices else "")


def cluster_texts(
    texts: Sequence[str], vectors: NDArray[np.float32], threshold: float = 0.6, min_size: int = 2
) -> list[Cluster]:
    """Average-linkage clusters whose members are at least `threshold` cosine-similar on average; biggest first."""
    if len(texts) < min_size:
        return []
    if len(texts) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        from sklearn.cluster import AgglomerativeClustering

        clustering = AgglomerativeClustering(
            n_clusters=None, distance_threshold=1.0 - threshold, metric="cosine", linkage="average"
        )
        labels = clustering.fit_predict(vectors)
    overall: Counter[str] = Counter()
    for text in texts:
        overall.update(set(_terms(text)))
    clusters = []
    for label in np.unique(labels):
        indices = np.flatnonzero(labels == label)
        if len(indices) < min_size:
            continue
        centroid = vectors[indices].mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-9)
        ordered = tuple(int(i) for i in indices[np.argsort(-(vectors[indices] @ centroid))])
        clusters.append(Cluster(ordered, top_terms(texts, ordered, overall), centroid.astype(np.float32)))
    return sorted(clusters, key=lambda cluster: -cluster.size)
