"""The n-gram features the sentiment model reads, shared by the trainer and the runtime so both see the same.

Words, word pairs and character 2-5-grams of the lower-cased text; each is emitted twice, once shared by all
languages and once tagged with the message's language, so one linear model learns cues common to every
language (emoji, "!!!", "lol") and cues of one language. A language the model never saw uses only the shared half.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils import murmurhash3_32

HASH_FEATURES = 2**20
# Measured at one thread: one row 0.36 CPU-ms here against 0.42-0.50 through sklearn and scipy; 128 rows 0.35-0.37
# against 0.31 per row.
_SPARSE_FROM_ROWS = 16
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


def hashed_columns(terms: Sequence[str], n_features: int) -> NDArray[np.int64]:
    """The column sklearn's HashingVectorizer(alternate_sign=False) gives each term: |murmurhash3_32(term)| mod n.

    sklearn maps the one hash without an absolute value, -2**31, to (2**31 - n) mod n, which is what abs() then mod
    gives as well when n is a power of two (every n this package hashes to).
    """
    if n_features & (n_features - 1):
        raise ValueError(f"{n_features} features: the hashing shortcut needs a power of two")
    hashes = np.fromiter((murmurhash3_32(term, 0) for term in terms), dtype=np.int64, count=len(terms))
    return np.abs(hashes) % n_features


def linear_scores(
    term_lists: Sequence[Sequence[str]], n_features: int, idf: NDArray[np.float32], coef_t: NDArray[np.float32]
) -> NDArray[np.float32]:
    """(rows, classes) of `tfidf(counts, idf) @ coef_t` for the hashed counts of each row's terms, without scipy.

    The same sums in the same order as hashing to a sparse matrix, `tfidf` and scipy's product, so the same float32
    numbers, at a fraction of their per-call cost: one message is about a thousand terms, and sklearn's and scipy's
    set-up per call cost more than that arithmetic. From `_SPARSE_FROM_ROWS` rows on, their set-up is shared and their
    C loops are faster than this one's hashing, so they do it.
    """
    if len(term_lists) >= _SPARSE_FROM_ROWS:
        hasher = HashingVectorizer(
            analyzer=lambda document: document, n_features=n_features, alternate_sign=False, norm=None
        )
        product = tfidf(hasher.transform(term_lists), idf) @ coef_t
        return np.asarray(product, dtype=np.float32).reshape(len(term_lists), coef_t.shape[1])
    result = np.zeros((len(term_lists), coef_t.shape[1]), dtype=np.float32)
    for row, terms in enumerate(term_lists):
        if not terms:
            continue
        columns, counts = np.unique(hashed_columns(terms, n_features), return_counts=True)
        values = (1.0 + np.log(counts.astype(np.float32))) * idf[columns]
        # Running sums (cumsum adds in order, as `tfidf` and scipy's product do) keep the float32 rounding theirs.
        norm = np.sqrt(np.cumsum(values * values)[-1])
        if norm > 0:
            values /= norm
        result[row] = np.cumsum(values[:, None] * coef_t[columns], axis=0)[-1]
    return result


def document_frequency_idf(counts: sparse.csr_matrix) -> NDArray[np.float32]:
    """Smoothed idf as in sklearn: ln((1 + n) / (1 + df)) + 1."""
    rows = counts.shape[0]
    frequency = np.bincount(counts.indices, minlength=counts.shape[1])
    return (np.log((1.0 + rows) / (1.0 + frequency)) + 1.0).astype(np.float32)
