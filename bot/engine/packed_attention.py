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


@dataclass(frozen=True)
class PackedBatch:
    """All segments of one forward pass, with their masks prepared once for every layer."""

    segments: tuple[Segment, ...]
    masks: tuple[torch.Tensor | None, ...]

    @staticmethod
    def build(segments: Sequence[Segment], device: torch.device) -> PackedBatch:
        return PackedBatch(tuple(segments), tuple(s.attention_mask(device) for s in segments))


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
    outputs = []
    for segment, mask in zip(batch.segments, batch.masks, strict=True):
        end = segment.start + segment.count
        total = segment.past + segment.count
        cache = segment.kv.buffer[layer]
        cache[0, :, segment.past : total] = key[0, :, segment.start : end]
        cache[1, :, segment.past : total] = value[0, :, segment.start : end]
        if segment.count == 1:
            outputs.append(_decode_attention(query[0, :, segment.start], cache, total, scaling))
            continue
        out = F.scaled_dot_product_attention(
            query[:, :, segment.start : end],
            cache[0:1, :, :total],
            cache[1:2, :, :total],
            attn_mask=mask,
            is_causal=segment.count > 1 and segment.past == 0,
            scale=scaling,
            enable_gqa=True,
        )
        outputs.append(out)
    attn = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=2)
    return attn.transpose(1, 2).contiguous(), None


def _decode_attention(query: torch.Tensor, cache: torch.Tensor, total: int, scaling: float | None) -> torch.Tensor:
    """One new token's attention over its cache with two small batched matmuls.

    CPU SDPA kernels are tuned for long queries; for a single query this is several times faster.
    Query heads are grouped by the key/value head they share (grouped-query attention).
    """
    heads, head_dim = query.shape
    kv_heads = cache.shape[1]
    grouped = query.reshape(kv_heads, heads // kv_heads, head_dim)
    scores = torch.bmm(grouped, cache[0, :, :total].transpose(1, 2))
    scores.mul_(scaling if scaling is not None else head_dim**-0.5)
    probs = torch.softmax(scores, dim=-1)
    out = torch.bmm(probs, cache[1, :, :total])
    return out.reshape(1, heads, 1, head_dim)


def register_packed_attention() -> None:
    """Make ``ATTENTION_NAME`` a valid attn_implementation (idempotent)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(ATTENTION_NAME, packed_attention_forward)
    # Outside packed mode (e.g. model.generate in the benchmark baseline) masks are SDPA's.
    AttentionMaskInterface.register(ATTENTION_NAME, sdpa_mask)
