"""Attention over a packed batch: many sequences' new tokens in one row, each with its own cache.

The scheduler flattens every active sequence's new tokens (one for decoding, a chunk for
prefilling) into a single ``[1, N]`` input with explicit position ids. The linear layers then run
once for all of them, and this attention function splits the queries back per sequence, appends
the new keys/values to that sequence's cache and attends over it alone. No padding means no
masked-out positions, so a sequence's attention is computed exactly as if it ran alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from bot.engine.kv_pool import SequenceKV

ATTENTION_NAME = "socialbot_packed"
BATCH_KWARG = "socialbot_packed_batch"
SINGLE_THREAD_ATTENTION = True


@dataclass(frozen=True)
class Segment:
    """One sequence's slice of the packed input: ``count`` new tokens after ``past`` cached ones."""

    kv: SequenceKV
    start: int
    count: int
    past: int

    def attention_mask(self, device: torch.device) -> torch.Tensor | None:
        """Boolean mask (True = attend) for a chunk that follows cached tokens; None when SDPA's
        own causal flag or no mask is exact."""
        if self.count == 1 or self.past == 0:
            return None
        rows = torch.arange(self.count, device=device).unsqueeze(1) + self.past
        cols = torch.arange(self.past + self.count, device=device).unsqueeze(0)
        return cols <= rows


class ScratchBuffer:
    """A reusable buffer the attention reads a sequence's cache into when it is stored in a narrower
    dtype than the model computes in (bfloat16 keys/values, float32 queries).

    Reusing one buffer matters: a fresh megabyte-sized tensor per sequence per layer is a fresh
    mapping the kernel must fault in and zero, which cost more than the attention itself
    (measured, 16 sequences of ~1,100 tokens: 198 ms per step with fresh tensors, 65 ms reusing).
    Owned by the worker thread; never shared between threads.
    """

    def __init__(self) -> None:
        self._buffer: torch.Tensor | None = None

    def view(self, kv_heads: int, tokens: int, head_dim: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """A (2, kv_heads, tokens, head_dim) view of the buffer, grown when needed."""
        buffer = self._buffer
        if (
            buffer is None
            or buffer.dtype != dtype
            or buffer.device != device
            or buffer.shape[1] != kv_heads
            or buffer.shape[3] != head_dim
            or buffer.shape[2] < tokens
        ):
            capacity = max(tokens, buffer.shape[2] if buffer is not None else 0)
            capacity = -(-capacity // 256) * 256
            buffer = torch.empty((2, kv_heads, capacity, head_dim), dtype=dtype, device=device)
            self._buffer = buffer
        return buffer[:, :, :tokens]


@dataclass(frozen=True)
class PackedBatch:
    """All segments of one forward pass, with their masks prepared once for every layer."""

    segments: tuple[Segment, ...]
    masks: tuple[torch.Tensor | None, ...]
    scratch: ScratchBuffer

    @staticmethod
    def build(segments: Sequence[Segment], device: torch.device, scratch: ScratchBuffer | None = None) -> PackedBatch:
        return PackedBatch(
            tuple(segments), tuple(s.attention_mask(device) for s in segments), scratch or ScratchBuffer()
        )


def packed_attention_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers attention interface: packed mode when the scheduler passes a batch, else SDPA."""
    batch: PackedBatch | None = kwargs.pop(BATCH_KWARG, None)
    if batch is None:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(  # type: ignore[no-any-return]
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    threads = torch.get_num_threads()
    if threads > 1 and SINGLE_THREAD_ATTENTION:
        # Per-sequence attention ops are tiny: thread start-up and barriers cost more than they
        # save, and far more when another process holds a core (measured: 90 us vs 7.7 ms).
        torch.set_num_threads(1)
    try:
        return _packed_attention(module, query, key, value, batch, scaling)
    finally:
        if threads > 1 and SINGLE_THREAD_ATTENTION:
            torch.set_num_threads(threads)


def _packed_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    batch: PackedBatch,
    scaling: float | None,
) -> tuple[torch.Tensor, None]:
    layer = int(module.layer_idx)  # type: ignore[arg-type]
    _, heads, tokens, head_dim = query.shape
    kv_heads = key.shape[1]
    scale = scaling if scaling is not None else head_dim**-0.5
    # One copy of the new keys/values, so each sequence stores its slice with a single write.
    new_kv = torch.stack((key[0], value[0]))  # (2, kv_heads, tokens, head_dim)
    # Decode queries, pre-scaled once for all sequences, grouped by the key/value head they share.
    scaled = (query[0] * scale).transpose(0, 1)  # (tokens, heads, head_dim)
    out = torch.empty((tokens, heads, head_dim), dtype=query.dtype, device=query.device)
    for segment, mask in zip(batch.segments, batch.masks, strict=True):
        end = segment.start + segment.count
        total = segment.past + segment.count
        cache = segment.kv.buffer[layer]
        cache[:, :, segment.past : total] = new_kv[:, :, segment.start : end]
        # Every key/value is read back from the cache, so a token attends to the same (rounded)
        # values whether it arrived in this chunk or an earlier one: chunking never changes output.
        stored = cache[:, :, :total]
        if stored.dtype != query.dtype:
            readable = batch.scratch.view(kv_heads, total, head_dim, query.dtype, query.device)
            readable.copy_(stored)
        else:
            readable = stored
        if segment.count == 1:
            _decode_attention(scaled[segment.start], readable, out[segment.start])
            continue
        attended = F.scaled_dot_product_attention(
            query[:, :, segment.start : end],
            readable[0:1],
            readable[1:2],
            attn_mask=mask,
            is_causal=segment.past == 0,
            scale=scaling,
            enable_gqa=True,
        )
        out[segment.start : end] = attended[0].transpose(0, 1)
    return out.unsqueeze(0), None


def _decode_attention(query: torch.Tensor, cache: torch.Tensor, out: torch.Tensor) -> None:
    """One new token's attention over its cache with two small batched matmuls, into ``out``.

    ``query`` (heads, head_dim) is already scaled; ``cache`` is (2, kv_heads, total, head_dim).
    CPU SDPA kernels are tuned for long queries; for a single query this is several times faster.
    Query heads are grouped by the key/value head they share (grouped-query attention).
    """
    heads, head_dim = query.shape
    kv_heads = cache.shape[1]
    grouped = query.reshape(kv_heads, heads // kv_heads, head_dim)
    probs = torch.softmax(torch.bmm(grouped, cache[0].transpose(1, 2)), dim=-1)
    torch.bmm(probs, cache[1], out=out.view(kv_heads, heads // kv_heads, head_dim))


def register_packed_attention() -> None:
    """Make ``ATTENTION_NAME`` a valid attn_implementation (idempotent)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(ATTENTION_NAME, packed_attention_forward)
    # Outside packed mode (e.g. model.generate in the benchmark baseline) masks are SDPA's.
    AttentionMaskInterface.register(ATTENTION_NAME, sdpa_mask)
