"""Attention over a packed batch: many sequences' new tokens in one row, each with its own cache.

The scheduler flattens every active sequence's new tokens (one for decoding, a chunk for
prefilling) into a single ``[1, N]`` input with explicit position ids. The linear layers then run
once for all of them, and this attention function splits the queries back per sequence, appends
the new keys/values to that sequence's cache and attends over it alone. No padding means no
masked-out positions, so a sequence's attention is computed exactly as if it ran alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from bot.engine.kv_pool import SequenceKV
from bot.engine.native_attention import DecodeGroup, NativeDecodeAttention
from bot.engine.step_profile import ATTENTION, region

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
class NativePlan:
    """Which segments the C kernel decodes (in one or two groups, one per thread) and which stay on torch."""

    kernel: NativeDecodeAttention
    groups: tuple[DecodeGroup, ...]
    others: tuple[int, ...]

    @staticmethod
    def build(kernel: NativeDecodeAttention, segments: Sequence[Segment], group_size: int, threads: int) -> NativePlan:
        decoding = [i for i, segment in enumerate(segments) if segment.count == 1]
        others = tuple(i for i, segment in enumerate(segments) if segment.count != 1)
        parts: Sequence[list[int]] = [decoding]
        if threads > 1 and len(decoding) >= 4:
            parts = balanced_halves(decoding, segments)
        groups = tuple(
            NativeDecodeAttention.group(
                [segments[i].kv.buffer for i in part],
                [segments[i].past for i in part],
                [segments[i].start for i in part],
                group_size,
            )
            for part in parts
            if part
        )
        return NativePlan(kernel, groups, others)


@dataclass(frozen=True)
class PackedBatch:
    """All segments of one forward pass, with their masks prepared once for every layer."""

    segments: tuple[Segment, ...]
    masks: tuple[torch.Tensor | None, ...]
    scratch: ScratchBuffer = field(default_factory=ScratchBuffer)
    # With more than one torch thread: a one-thread executor that attends to about half of the
    # sequences while this thread does the rest, each with its own scratch buffer.
    helper: Executor | None = None
    helper_scratch: ScratchBuffer = field(default_factory=ScratchBuffer)
    # Decoding segments go through the C kernel when it is loaded (see native_attention).
    native: NativePlan | None = None

    @staticmethod
    def build(
        segments: Sequence[Segment],
        device: torch.device,
        scratch: ScratchBuffer | None = None,
        helper: Executor | None = None,
        helper_scratch: ScratchBuffer | None = None,
        kernel: NativeDecodeAttention | None = None,
        group_size: int = 1,
    ) -> PackedBatch:
        native = None
        if kernel is not None and any(segment.count == 1 for segment in segments):
            native = NativePlan.build(kernel, segments, group_size, 2 if helper is not None else 1)
        return PackedBatch(
            tuple(segments),
            tuple(s.attention_mask(device) for s in segments),
            scratch or ScratchBuffer(),
            helper,
            helper_scratch or ScratchBuffer(),
            native,
        )

    def split(self) -> tuple[list[int], list[int]]:
        """Segment indices in two groups of about equal attention work (tokens read)."""
        return balanced_halves(range(len(self.segments)), self.segments)


def balanced_halves(indices: Sequence[int], segments: Sequence[Segment]) -> tuple[list[int], list[int]]:
    """The given segments in two groups of about equal attention work (keys read times queries), one per thread."""

    def work(index: int) -> int:
        return (segments[index].past + segments[index].count) * segments[index].count

    groups: tuple[list[int], list[int]] = ([], [])
    loads = [0, 0]
    for index in sorted(indices, key=lambda i: -work(i)):
        lighter = 0 if loads[0] <= loads[1] else 1
        groups[lighter].append(index)
        loads[lighter] += work(index)
    return groups


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
        with region(ATTENTION):
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
    scaled = (query[0].transpose(0, 1) * scale).contiguous()  # (tokens, heads, head_dim), a new tensor
    out = torch.empty((tokens, heads, head_dim), dtype=query.dtype, device=query.device)
    grouped = scaled.view(tokens, kv_heads, heads // kv_heads, head_dim)
    if batch.native is not None and query.dtype == torch.float32:
        _attend_native(batch, batch.native, layer, query, new_kv, grouped, out, scaling)
        return out.unsqueeze(0), None
    if batch.helper is None or len(batch.segments) < 4:
        _attend(range(len(batch.segments)), batch, batch.scratch, layer, query, new_kv, grouped, out, scaling)
        return out.unsqueeze(0), None
    # Two threads, disjoint sequences: each writes its own caches and rows of ``out``.
    mine, theirs = batch.split()
    pending = batch.helper.submit(
        _attend_in_mode,
        torch.is_inference_mode_enabled(),
        theirs,
        batch,
        batch.helper_scratch,
        layer,
        query,
        new_kv,
        grouped,
        out,
        scaling,
    )
    try:
        _attend(mine, batch, batch.scratch, layer, query, new_kv, grouped, out, scaling)
    finally:
        pending.result()
    return out.unsqueeze(0), None


def _attend_native(
    batch: PackedBatch,
    plan: NativePlan,
    layer: int,
    query: torch.Tensor,
    new_kv: torch.Tensor,
    grouped: torch.Tensor,
    out: torch.Tensor,
    scaling: float | None,
) -> None:
    """Decoding segments through the kernel (the second group on the helper thread; the kernel
    releases the GIL), prefill chunks through torch."""
    grouped_out = out.view(grouped.shape)
    groups = plan.groups
    pending = None
    if batch.helper is not None and len(groups) > 1:
        pending = batch.helper.submit(plan.kernel.attend, groups[1], layer, grouped, new_kv, grouped_out)
        groups = groups[:1]
    try:
        for group in groups:
            plan.kernel.attend(group, layer, grouped, new_kv, grouped_out)
        if plan.others:
            _attend(plan.others, batch, batch.scratch, layer, query, new_kv, grouped, out, scaling)
    finally:
        if pending is not None:
            pending.result()


def _attend_in_mode(inference: bool, *args: Any) -> None:
    """``_attend`` on another thread, under the caller's inference mode (a thread-local setting)."""
    with torch.inference_mode(inference), torch.no_grad():
        _attend(*args)


def _attend(
    indices: Sequence[int],
    batch: PackedBatch,
    scratch: ScratchBuffer,
    layer: int,
    query: torch.Tensor,
    new_kv: torch.Tensor,
    grouped: torch.Tensor,
    out: torch.Tensor,
    scaling: float | None,
) -> None:
    """Store the new keys/values of the given segments and write their attention into ``out``."""
    kv_heads, head_dim = new_kv.shape[1], new_kv.shape[3]
    grouped_out = out.view(grouped.shape)
    for index in indices:
        segment, mask = batch.segments[index], batch.masks[index]
        start, count, past = segment.start, segment.count, segment.past
        total = past + count
        stored = segment.kv.buffer[layer, :, :, :total]
        stored.narrow(2, past, count).copy_(new_kv.narrow(2, start, count))
        # Every key/value is read back from the cache, so a token attends to the same (rounded)
        # values whether it arrived in this chunk or an earlier one: chunking never changes output.
        if stored.dtype != query.dtype:
            readable = scratch.view(kv_heads, total, head_dim, query.dtype, query.device)
            readable.copy_(stored)
        else:
            readable = stored
        if count == 1:
            # One new token: two small batched matmuls, query heads grouped by the key/value head
            # they share. CPU SDPA kernels are tuned for long queries; this is several times faster.
            keys, values = readable.unbind(0)
            probs = torch.softmax(torch.bmm(grouped[start], keys.transpose(1, 2)), dim=-1)
            torch.bmm(probs, values, out=grouped_out[start])
            continue
        attended = F.scaled_dot_product_attention(
            query[:, :, start : start + count],
            readable[0:1],
            readable[1:2],
            attn_mask=mask,
            is_causal=past == 0,
            scale=scaling,
            enable_gqa=True,
        )
        out[start : start + count] = attended[0].transpose(0, 1)


def register_packed_attention() -> None:
    """Make ``ATTENTION_NAME`` a valid attn_implementation (idempotent)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(ATTENTION_NAME, packed_attention_forward)
    # Outside packed mode (e.g. model.generate in the benchmark baseline) masks are SDPA's.
    AttentionMaskInterface.register(ATTENTION_NAME, sdpa_mask)
