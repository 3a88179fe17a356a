"""The bundled MiniLM sentence encoder as the classifiers use it: tokenizer, shared weights, batched embedding.

The moderation classifiers run the encoder once per message at batch size 1. The forward pass is
:class:`bot.minilm_numpy.NumpyMiniLM` (numpy, no torch import: same weights and maths as the torch model the
training scripts use, :mod:`bot.minilm_torch`, re-exported here lazily as ``MiniLMEncoder``); tokenization is the
Rust ``tokenizers`` library, after the text normalisation a classifier was trained with.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from tokenizers import Tokenizer

from bot.minilm_numpy import (
    BUNDLED_ENCODER_PACKAGE as BUNDLED_ENCODER_PACKAGE,
)
from bot.minilm_numpy import (
    EncoderConfig as EncoderConfig,
)
from bot.minilm_numpy import (
    EncoderNotFoundError as EncoderNotFoundError,
)
from bot.minilm_numpy import (
    NumpyMiniLM,
)
from bot.minilm_numpy import (
    bundled_encoder_dir as bundled_encoder_dir,
)
from bot.moderation.normalization import BASIC, make_normalizer

if TYPE_CHECKING:
    import torch

    from bot.minilm_torch import Embeddings as Embeddings
    from bot.minilm_torch import EncoderLayer as EncoderLayer
    from bot.minilm_torch import MiniLMEncoder as MiniLMEncoder

DEFAULT_MAX_TOKENS = 64
_TORCH_NAMES = frozenset({"MiniLMEncoder", "EncoderLayer", "Embeddings"})


def __getattr__(name: str) -> object:
    """The torch model's classes, imported (with torch) only when a training script asks for them."""
    if name in _TORCH_NAMES:
        from bot import minilm_torch

        return getattr(minilm_torch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def shared_bundled_encoder() -> NumpyMiniLM:
    """The bundled encoder, loaded once per process: the classifiers, the request-harm model and the knowledge
    base's sentence vectors share its weights (only read, never trained in place)."""
    return NumpyMiniLM.from_pretrained()


class EncoderTokenizer:
    """WordPiece tokenizer of the bundled encoder, truncating to ``max_tokens`` and padding per batch.

    Texts are first normalised by the ``normalization`` a classifier was trained with
    (:mod:`bot.moderation.normalization`).
    """

    def __init__(
        self, model_dir: Path | None = None, max_tokens: int = DEFAULT_MAX_TOKENS, normalization: str = BASIC
    ) -> None:
        model_dir = model_dir or bundled_encoder_dir()
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.no_padding()
        self._normalize = make_normalizer(normalization, self._tokenizer.get_vocab())
        self.max_tokens = max_tokens
        self.normalization = normalization

    def arrays(self, texts: Sequence[str]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Return ``(input_ids, attention_mask)`` for normalised ``texts``, padded to the longest."""
        encodings = self._tokenizer.encode_batch([self._normalize(text) for text in texts])
        length = max(len(encoding.ids) for encoding in encodings)
        input_ids = np.zeros((len(texts), length), dtype=np.int64)
        attention_mask = np.zeros((len(texts), length), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            input_ids[row, : len(encoding.ids)] = encoding.ids
            attention_mask[row, : len(encoding.ids)] = 1
        return input_ids, attention_mask

    def __call__(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`arrays` as torch tensors, for the training scripts (imports torch)."""
        import torch

        input_ids, attention_mask = self.arrays(texts)
        return torch.from_numpy(input_ids), torch.from_numpy(attention_mask)


def embed_texts(
    encoder: NumpyMiniLM,
    tokenizer: EncoderTokenizer,
    texts: Sequence[str],
    batch_size: int = 64,
    normalize: bool = True,
) -> NDArray[np.float32]:
    """Embed ``texts`` in batches (sorted by length to limit padding); rows keep the input order."""
    order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
    output = np.zeros((len(texts), encoder.config.hidden_size), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        indices = order[start : start + batch_size]
        pooled = encoder(*tokenizer.arrays([texts[index] for index in indices]))
        if normalize:
            pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), np.float32(1e-12))
        output[indices] = pooled
    return output
