"""The n-gram features the sentiment model reads, shared by the trainer and the runtime so both see the same.

Words, word pairs and character 2-5-grams of the lower-cased text; each is emitted twice, once shared by all
languages and once tagged with the message's language, so one linear model learns cues common to every
language (emoji, "!!!", "lol") and cues of one language. A language the model never saw uses only the shared half.
"""

from __future__ import annotations

import re
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer

HASH_FEATURES = 2**20
_WORD = re.compile(r"\w+|[^\w\s]")
_SPACES = re.compile(r"\s+")
_URL = re.compile(r"https?://\S+|\bhttp\b")
_MENTION = re.compile(r"@\w+")
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def normalize(text: str) -> str:
    """Lower-case, `\\u2019`-style escapes decoded, links and @mentions reduced to one placeholder each."""
    text = _ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), text)
    text = _URL.sub(" http ", text)
    text = _MENTION.sub(" @user ", text)
    return _SPACES.sub(" ", text.lower()).strip()


def ngrams(text: str, language: str) -> list[str]:
    """The feature names of `text` written in `language` (ISO 639-1, "" when unknown)."""
    normalized = normalize(text)
    words = _WORD.findall(normalized)
    grams = words + [f"{first} {second}" for first, second in pairwise(words)]
    padded = f" {normalized} "
    for size in range(2, 6):
        grams.extend("#" + padded[start : start + size] for start in range(len(padded) - size + 1))
    if language:
        grams.extend([f"{language}|{gram}" for gram in grams])
    return grams


_hasher = HashingVectorizer(
    analyzer=lambda document: document, n_features=HASH_FEATURES, alternate_sign=False, norm=None
)


def term_counts(texts: list[str], languages: list[str]) -> sparse.csr_matrix:
    """Hashed n-gram counts, one row per text."""
    matrix: sparse.csr_matrix = _hasher.transform(
        [ngrams(text, language) for text, language in zip(texts, languages, strict=True)]
    )
    return matrix


def tfidf(counts: sparse.csr_matrix, idf: NDArray[np.float32]) -> sparse.csr_matrix:
    """Sublinear tf times idf, rows L2-normalised (what sklearn's TfidfTransformer(sublinear_tf=True) does).

    Works on the CSR arrays directly: at one message per call, scipy's general operations cost more than the maths.
    """
    counts = counts.tocsr()
    counts.sum_duplicates()
    values = (1.0 + np.log(counts.data.astype(np.float32))) * idf[counts.indices]
    squares = np.zeros(counts.shape[0], dtype=np.float32)
    rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    np.add.at(squares, rows, values * values)
    norms = np.sqrt(squares)
    norms[norms == 0] = 1.0
    values /= norms[rows]
    return sparse.csr_matrix((values, counts.indices, counts.indptr), shape=counts.shape)


def document_frequency_idf(counts: sparse.csr_matrix) -> NDArray[np.float32]:
    """Smoothed idf as in sklearn: ln((1 + n) / (1 + df)) + 1."""
    rows = counts.shape[0]
    frequency = np.bincount(counts.indices, minlength=counts.shape[1])
    return (np.log((1.0 + rows) / (1.0 + frequency)) + 1.0).astype(np.float32)
