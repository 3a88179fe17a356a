"""The C decode-attention kernel (``decode_attention.c``): compiled once per machine, then loaded.

Building and caching go through :mod:`bot.native_build`, shared by every kernel (a C compiler is all it
needs; libraries are keyed by source, flags and CPU). Without a compiler, or if the build or a numerical self-check
fails, the engine keeps torch's attention and logs why once.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from bot.native_build import COMMON_FLAGS, build_and_load, find_compiler

logger = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("decode_attention.c")
SUPPORTED_KV_DTYPES = (torch.float32, torch.bfloat16)
MAX_GROUP = 16
MAX_HEAD_DIM = 256


class NativeAttentionError(RuntimeError):
    """The kernel refused its arguments (a shape it does not support)."""


@dataclass
class DecodeGroup:
    """Decode segments handed to one kernel call: their caches, positions and a scratch buffer.

    Built once per scheduler step and reused by every layer, so a layer costs one foreign call.
    """

    count: int
    buffers: ctypes.Array[ctypes.c_void_p]
    capacities: ctypes.Array[ctypes.c_int64]
    pasts: ctypes.Array[ctypes.c_int64]
    rows: ctypes.Array[ctypes.c_int64]
    scratch: torch.Tensor
    # Keeps the caches alive while their raw pointers are in use.
    tensors: tuple[torch.Tensor, ...]


class NativeDecodeAttention:
    """The loaded kernel: stores each decoding sequence's new key/value and attends over its cache.

    It exists because torch answers one decoding sequence with several tiny ops per layer, which
    cost most of a 16-sequence decode step on a CPU; the kernel reads each cached key and value once
    for all the query heads that share it.
    """

    def __init__(self, library: ctypes.CDLL, path: Path) -> None:
        self.path = path
        function = library.socialbot_decode_attention
        function.restype = ctypes.c_int
        function.argtypes = [
            ctypes.c_int32,  # is_bf16
            ctypes.c_int64,  # count
            ctypes.c_void_p,  # buffers
            ctypes.c_void_p,  # capacities
            ctypes.c_void_p,  # pasts
            ctypes.c_void_p,  # rows
            ctypes.c_int64,  # layer
            ctypes.c_int64,  # kv_heads
            ctypes.c_int64,  # group
            ctypes.c_int64,  # head_dim
            ctypes.c_int64,  # tokens
            ctypes.c_void_p,  # queries
            ctypes.c_void_p,  # new_kv
            ctypes.c_void_p,  # out
            ctypes.c_void_p,  # scratch
        ]
        self._function = function
        width = library.socialbot_decode_attention_simd_width
        width.restype = ctypes.c_int
        width.argtypes = []
        # Lanes of the vectorized path (16 with AVX-512), or 0 when only the portable loops were built.
        self.simd_width = int(width())

    @staticmethod
    def supports(kv_dtype: torch.dtype, device: torch.device, kv_heads: int, heads: int, head_dim: int) -> bool:
        """Whether caches of this dtype and shape, on this device, can go through the kernel."""
        if device.type != "cpu" or kv_dtype not in SUPPORTED_KV_DTYPES or heads % kv_heads:
            return False
        return heads // kv_heads <= MAX_GROUP and head_dim <= MAX_HEAD_DIM

    @staticmethod
    def group(
        buffers: Sequence[torch.Tensor], pasts: Sequence[int], rows: Sequence[int], group_size: int
    ) -> DecodeGroup:
        """Arguments for one call over these sequences (caches shaped [layers, 2, kv_heads, capacity, dim])."""
        for buffer in buffers:
            if not buffer.is_contiguous() or buffer.dtype not in SUPPORTED_KV_DTYPES:
                raise NativeAttentionError("caches must be contiguous float32 or bfloat16 tensors")
        count = len(buffers)
        scratch = torch.empty(group_size * (max(pasts, default=0) + 1), dtype=torch.float32)
        return DecodeGroup(
            count=count,
            buffers=(ctypes.c_void_p * count)(*(buffer.data_ptr() for buffer in buffers)),
            capacities=(ctypes.c_int64 * count)(*(int(buffer.shape[3]) for buffer in buffers)),
            pasts=(ctypes.c_int64 * count)(*pasts),
            rows=(ctypes.c_int64 * count)(*rows),
            scratch=scratch,
            tensors=tuple(buffers),
        )

    def attend(
        self, group: DecodeGroup, layer: int, queries: torch.Tensor, new_kv: torch.Tensor, out: torch.Tensor
    ) -> None:
        """Store the group's new keys/values of ``layer`` and write its attention into ``out``.

        ``queries`` and ``out``: contiguous float32 [tokens, kv_heads, group, head_dim], queries
        pre-scaled; ``new_kv``: contiguous float32 [2, kv_heads, tokens, head_dim].
        """
        if group.count == 0:
            return
        tokens, kv_heads, group_size, head_dim = queries.shape
        for tensor in (queries, new_kv, out):
            if tensor.dtype != torch.float32 or not tensor.is_contiguous():
                raise NativeAttentionError("queries, new keys/values and output must be contiguous float32")
        is_bf16 = group.tensors[0].dtype == torch.bfloat16
        status = self._function(
            int(is_bf16),
            group.count,
            ctypes.addressof(group.buffers),
            ctypes.addressof(group.capacities),
            ctypes.addressof(group.pasts),
            ctypes.addressof(group.rows),
            layer,
            kv_heads,
            group_size,
            head_dim,
            tokens,
            queries.data_ptr(),
            new_kv.data_ptr(),
            out.data_ptr(),
            group.scratch.data_ptr(),
        )
        if status != 0:
            raise NativeAttentionError(f"unsupported shape: {group_size} query heads per key head, dim {head_dim}")


@functools.cache
def load_native_attention(
    cache_dir: Path | None = None, require_simd: bool = True, march: str = "native"
) -> NativeDecodeAttention | None:
    """The compiled kernel, building it first if needed; None (logged once) when it cannot be used.

    With `require_simd` (the engine's case) a build without a vectorized path (AVX-512, or AVX2 with
    FMA) counts as unusable: its portable loops were measured slower than torch (4.9 ms against 3.1 ms
    per layer for 16 sequences). `march` is the CPU to build for (gcc's -march; tests pick older ones).
    """
    compiler = find_compiler()
    if not compiler:
        logger.info("no C compiler found: decode attention stays on torch (slower with many conversations)")
        return None
    for flags in ((f"-march={march}", *COMMON_FLAGS), COMMON_FLAGS):
        try:
            kernel = NativeDecodeAttention(*build_and_load("decode_attention", compiler, flags, SOURCE, (), cache_dir))
        except (OSError, subprocess.SubprocessError) as error:
            logger.warning("could not build the decode-attention kernel with %s: %s", " ".join(flags), error)
            continue
        if not _self_check(kernel):
            logger.warning("the decode-attention kernel built with %s gave wrong results; not used", " ".join(flags))
            continue
        if require_simd and kernel.simd_width == 0:
            logger.info("no AVX-512 or AVX2 on this CPU: decode attention stays on torch, which is faster here")
            return None
        return kernel
    return None


def reference_decode_attention(
    buffer: torch.Tensor, layer: int, past: int, query: torch.Tensor, new_key: torch.Tensor, new_value: torch.Tensor
) -> torch.Tensor:
    """What the kernel computes for one sequence, in plain torch: store, then attend (for checks and tests).

    ``query``: [kv_heads, group, dim] pre-scaled; ``new_key``/``new_value``: [kv_heads, dim].
    """
    buffer[layer, 0, :, past] = new_key
    buffer[layer, 1, :, past] = new_value
    keys = buffer[layer, 0, :, : past + 1].float()
    values = buffer[layer, 1, :, : past + 1].float()
    probabilities = torch.softmax(query @ keys.transpose(1, 2), dim=-1)
    return probabilities @ values


def _self_check(kernel: NativeDecodeAttention) -> bool:
    """Compare the kernel with the torch reference on a small random case, for both cache dtypes."""
    generator = torch.Generator().manual_seed(0)
    layers, kv_heads, group, dim, capacity = 2, 2, 3, 64, 64
    for dtype in SUPPORTED_KV_DTYPES:
        buffers = [torch.randn((layers, 2, kv_heads, capacity, dim), generator=generator).to(dtype) for _ in range(2)]
        expected_buffers = [buffer.clone() for buffer in buffers]
        pasts, tokens = [37, 5], 3
        queries = torch.randn((tokens, kv_heads, group, dim), generator=generator) * dim**-0.5
        new_kv = torch.randn((2, kv_heads, tokens, dim), generator=generator)
        out = torch.zeros_like(queries)
        rows = [2, 0]
        kernel.attend(NativeDecodeAttention.group(buffers, pasts, rows, group), 1, queries, new_kv, out)
        for buffer, past, row in zip(expected_buffers, pasts, rows, strict=True):
            expected = reference_decode_attention(
                buffer, 1, past, queries[row], new_kv[0, :, row].to(dtype), new_kv[1, :, row].to(dtype)
            )
            if not torch.allclose(out[row], expected, atol=1e-5, rtol=1e-4):
                return False
        if not all(torch.equal(a, b) for a, b in zip(buffers, expected_buffers, strict=True)):
            return False
    return True
