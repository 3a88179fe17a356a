"""(request, reply) token pairs for a MiniLM cross-encoder that reads a reply together with its request.

A cross-encoder sees both texts in one sequence (``[CLS] request [SEP] reply [SEP]``, token types 0 and 1), so
attention can check whether the reply carries what the request asks for. The request is cut to its first
``request_tokens``; a reply longer than the rest keeps its head and its tail (harmful steps and a closing
disclaimer both matter). Used by ``scripts/train_harm_cross.py``; texts get the ``basic`` normalisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from tokenizers import Tokenizer

from bot.minilm_numpy import bundled_encoder_dir
from bot.moderation.normalization import normalize_message

CLS_ID = 101
SEP_ID = 102


@dataclass(frozen=True)
class PairBatch:
    """Padded token ids, attention mask and token types of a batch of (request, reply) pairs."""

    input_ids: NDArray[np.int64]
    attention_mask: NDArray[np.int64]
    token_type_ids: NDArray[np.int64]


class PairTokenizer:
    """WordPiece pairs of the bundled encoder within ``max_tokens``, the reply cut to head + tail when long."""

    def __init__(
        self, max_tokens: int = 256, request_tokens: int = 40, tail_tokens: int = 64, model_dir: Path | None = None
    ) -> None:
        self._tokenizer = Tokenizer.from_file(str((model_dir or bundled_encoder_dir()) / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.max_tokens = max_tokens
        self.request_tokens = request_tokens
        self.tail_tokens = tail_tokens

    def _ids(self, texts: Sequence[str]) -> list[list[int]]:
        encodings = self._tokenizer.encode_batch([normalize_message(text) for text in texts], add_special_tokens=False)
        return [list(encoding.ids) for encoding in encodings]

    def pair_ids(self, request: list[int], reply: list[int]) -> tuple[list[int], list[int]]:
        """One pair's ids and token types (already tokenised texts, special tokens added here)."""
        request = request[: self.request_tokens]
        room = self.max_tokens - len(request) - 3
        if len(reply) > room:
            reply = reply[: room - self.tail_tokens] + reply[len(reply) - self.tail_tokens :]
        ids = [CLS_ID, *request, SEP_ID, *reply, SEP_ID]
        return ids, [0] * (len(request) + 2) + [1] * (len(reply) + 1)

    def __call__(self, requests: Sequence[str], replies: Sequence[str]) -> PairBatch:
        """Pairs padded to the batch's longest."""
        pairs = [
            self.pair_ids(request, reply)
            for request, reply in zip(self._ids(requests), self._ids(replies), strict=True)
        ]
        length = max(len(ids) for ids, _ in pairs)
        input_ids = np.zeros((len(pairs), length), dtype=np.int64)
        mask = np.zeros((len(pairs), length), dtype=np.int64)
        types = np.zeros((len(pairs), length), dtype=np.int64)
        for row, (ids, token_types) in enumerate(pairs):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
            types[row, : len(ids)] = token_types
        return PairBatch(input_ids, mask, types)
