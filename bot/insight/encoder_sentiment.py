"""The neural half of the sentiment model: the bundled MiniLM encoder with its top layers fine-tuned on UMSAB.

Only the fine-tuned top layers and the 3-class head ship (`SENTIMENT_LAYERS_FILE`, fp16); the word embeddings
and the frozen lower layers come from the bundled all-MiniLM-L6-v2 package. Inference runs in numpy
(`bot.minilm_numpy`, sharing the classifiers' copy of the weights); `scripts/train_sentiment.py` trains it on the
torch model (`bot.minilm_torch`), which this module's `SentimentHead` and `bundled_encoder` are for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from bot.insight import InsightError
from bot.insight.labels import LABELS
from bot.minilm_numpy import LinearHead, NumpyMiniLM
from bot.minilm_torch import MiniLMEncoder, torch_bundled_encoder
from bot.moderation.embeddings_features import EncoderNotFoundError, EncoderTokenizer, shared_bundled_encoder

SENTIMENT_LAYERS_FILE = "sentiment_minilm_layers.safetensors"
HEAD_PREFIX = "head."
MAX_TOKENS = 64
# The int8 kernel rounds these products' activations once (7 bits, half their multiply-adds; ~25% less CPU per
# forward): against the float forward 0 + 2 of 600 UMSAB en + hi val labels differ, as with both levels
# (scripts/minilm_int8_agreement.py). The moderation models keep both levels (one offensive decision moved).
COARSE_PRODUCTS = frozenset({"attention_output", "intermediate"})
_BATCH_SIZE = 64


class SentimentHead(nn.Module):
    """Dropout and one linear layer from the mean-pooled sentence vector to the three sentiment logits."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.dropout = nn.Dropout(0.1)
        self.linear = nn.Linear(hidden_size, len(LABELS))

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.linear(self.dropout(pooled))
        return logits


def bundled_encoder() -> MiniLMEncoder:
    """The bundled encoder, loaded once per process (its embeddings and frozen layers are only read)."""
    try:
        return torch_bundled_encoder()
    except EncoderNotFoundError as exc:
        raise InsightError(f"the sentiment model needs the bundled sentence encoder: {exc}") from exc


def trained_state(encoder: MiniLMEncoder, head: SentimentHead, first_trained_layer: int) -> dict[str, torch.Tensor]:
    """What the trainer ships: the fine-tuned layers in fp16 and the head in fp32."""
    state = {
        f"layers.{name}": tensor.detach().clone().half().contiguous()
        for name, tensor in encoder.layers.state_dict().items()
        if int(name.split(".")[0]) >= first_trained_layer
    }
    state.update(
        {f"{HEAD_PREFIX}{name}": tensor.detach().clone().float() for name, tensor in head.state_dict().items()}
    )
    return state


class EncoderSentiment:
    """Label log-probabilities of texts from the fine-tuned encoder; inference only (numpy, the same scores as the
    torch model within 1e-5; its embeddings and frozen layers shared with the classifiers), safe from threads."""

    def __init__(self, encoder: NumpyMiniLM, head: LinearHead, tokenizer: EncoderTokenizer) -> None:
        self.encoder = encoder
        self.head = head
        self.tokenizer = tokenizer

    @classmethod
    def load(cls, path: Path) -> EncoderSentiment:
        from safetensors.numpy import load_file as load_arrays

        try:
            state = load_arrays(str(path))
        except (OSError, ValueError) as exc:
            raise InsightError(f"{path}: cannot read the sentiment encoder layers: {exc}") from exc
        try:
            base = shared_bundled_encoder()
        except EncoderNotFoundError as exc:
            raise InsightError(f"the sentiment model needs the bundled sentence encoder: {exc}") from exc
        try:
            encoder = base.with_layer_overrides(
                {k: v for k, v in state.items() if not k.startswith(HEAD_PREFIX)}, COARSE_PRODUCTS
            )
            head = LinearHead.from_state(
                {k.removeprefix(HEAD_PREFIX): v for k, v in state.items() if k.startswith(HEAD_PREFIX)},
                base.config.hidden_size,
            )
        except (KeyError, ValueError) as exc:
            raise InsightError(f"{path}: the sentiment encoder layers do not fit the bundled encoder: {exc}") from exc
        return cls(encoder, head, EncoderTokenizer(max_tokens=MAX_TOKENS))

    def log_probabilities(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """(len(texts), 3) natural-log label probabilities, batched by similar length, rows in input order."""
        order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
        result = np.zeros((len(texts), len(LABELS)), dtype=np.float32)
        for start in range(0, len(order), _BATCH_SIZE):
            indices = order[start : start + _BATCH_SIZE]
            logits = self.head(self.encoder(*self.tokenizer.arrays([texts[index] for index in indices])))
            shifted = logits - logits.max(-1, keepdims=True)
            result[indices] = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
        return result
