"""Int8 weights read directly by a C kernel (``int8_matmul.c``) in decode and prefill.

Each ``torch.nn.Linear`` of the model (lm_head included) becomes an ``Int8Linear``: weights
rounded per output channel to int8 (a quarter of float32's bytes, which is what bounds a batch-1
decode step), activations kept in float32. Decode steps and short prefill chunks go through the
kernel; long prefill chunks (``WIDEN_ROWS``) widen the layer's int8 weights to a temporary float
copy and use torch's matmul, which is compute-bound there. The kernel is compiled once per machine like the
decode-attention kernel (see ``native_attention``); where it cannot be built or fails its
self-check, ``quantize_model`` returns 0 and the caller keeps another path.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

from bot.engine.direct_llama import DirectLlamaForCausalLM
from bot.engine.step_profile import region
from bot.native_build import COMMON_FLAGS, build_and_load, find_compiler

logger = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("int8_matmul.c")
# Rows from which one call is split between the calling thread and a helper (below, the hand-off
# costs more than the second core saves).
SPLIT_ROWS = 8
# Layers at least this big are split even for one row (the MLP projections and lm_head of SmolLM2:
# measured 248 -> 193 us for 576x1536 at batch 1; 576x576 got slower).
SPLIT_WEIGHTS = 512 * 1024
# Rows from which widening the whole weight once and calling torch's float matmul is faster than the
# kernel (measured at 256 rows: 24 ms against 35 ms for a 576x1536 layer): long prefill chunks.
WIDEN_ROWS = 64


class Int8Kernel:
    """The loaded kernel: ``linear`` computes ``x @ (scale * w).T + bias`` from int8 ``w``."""

    def __init__(self, library: ctypes.CDLL, path: Path) -> None:
        self.path = path
        function = library.socialbot_int8_linear
        function.restype = ctypes.c_int
        function.argtypes = [
            ctypes.c_int64,  # rows
            ctypes.c_int64,  # in
            ctypes.c_int64,  # out
            ctypes.c_void_p,  # x
            ctypes.c_void_p,  # w
            ctypes.c_void_p,  # scale
            ctypes.c_void_p,  # bias (NULL for none)
            ctypes.c_void_p,  # y
            ctypes.c_int64,  # o_begin
            ctypes.c_int64,  # o_end
        ]
        self._function = function
        width = library.socialbot_int8_simd_width
        width.restype = ctypes.c_int
        self.simd_width = int(width())
        self._helper: ThreadPoolExecutor | None = None

    def _second_thread(self) -> ThreadPoolExecutor | None:
        if torch.get_num_threads() < 2:
            return None
        if self._helper is None:
            self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="socialbot-int8")
        return self._helper

    def linear(
        self, x: torch.Tensor, weight: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        """``x`` [..., in] float32; ``weight`` [out, in] int8; ``scale``/``bias`` [out] float32."""
        out_features, in_features = weight.shape
        flat = x.reshape(-1, in_features)
        if flat.dtype != torch.float32 or not flat.is_contiguous():
            flat = flat.float().contiguous()
        rows = flat.shape[0]
        if rows >= WIDEN_ROWS:
            widened = weight.float().mul_(scale[:, None])
            return torch.nn.functional.linear(flat, widened, bias).view(*x.shape[:-1], out_features)
        y = torch.empty((rows, out_features), dtype=torch.float32)
        args = (
            rows,
            in_features,
            out_features,
            flat.data_ptr(),
            weight.data_ptr(),
            scale.data_ptr(),
            bias.data_ptr() if bias is not None else None,
            y.data_ptr(),
        )
        big = rows >= SPLIT_ROWS or out_features * in_features >= SPLIT_WEIGHTS
        helper = self._second_thread() if big else None
        if helper is None:
            status = self._function(*args, 0, out_features)
        else:  # ctypes releases the GIL: both halves run at once
            middle = out_features // 2
            pending = helper.submit(self._function, *args, middle, out_features)
            status = self._function(*args, 0, middle) | pending.result()
        if status != 0:
            raise RuntimeError("the int8 kernel refused its arguments")
        return y.view(*x.shape[:-1], out_features)


class Int8Linear(torch.nn.Module):
    """A Linear layer whose weights are int8 per output channel, served by ``Int8Kernel``."""

    weight_int8: torch.Tensor
    scale: torch.Tensor
    bias: torch.Tensor | None

    def __init__(self, linear: torch.nn.Linear, kernel: Int8Kernel) -> None:
        super().__init__()
        weight = linear.weight.detach().float()
        scale = weight.abs().amax(dim=1).clamp(min=1e-12) / 127.0
        self.register_buffer("weight_int8", torch.round(weight / scale[:, None]).clamp(-127, 127).to(torch.int8))
        self.register_buffer("scale", scale.contiguous())
        bias = linear.bias.detach().float().contiguous() if linear.bias is not None else None
        self.register_buffer("bias", bias)
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        self._kernel = kernel

    @classmethod
    def stacked(cls, layers: Sequence[torch.nn.Module], kernel: Int8Kernel) -> Int8Linear:
        """One layer whose output is the given bias-free int8 layers' outputs side by side."""
        parts = [layer for layer in layers if isinstance(layer, Int8Linear) and layer.bias is None]
        if len(parts) != len(layers):
            raise TypeError("only bias-free Int8Linear layers can be stacked")
        stacked = cls.__new__(cls)
        torch.nn.Module.__init__(stacked)
        stacked.register_buffer("weight_int8", torch.cat([part.weight_int8 for part in parts]))
        stacked.register_buffer("scale", torch.cat([part.scale for part in parts]))
        stacked.register_buffer("bias", None)
        stacked.in_features = parts[0].in_features
        stacked.out_features = sum(part.out_features for part in parts)
        stacked._kernel = kernel
        return stacked

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with region("socialbot::int8_linear"):
            return self._kernel.linear(x, self.weight_int8, self.scale, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 weights"


def linear_layers(model: torch.nn.Module) -> list[tuple[torch.nn.Module, str, torch.nn.Linear]]:
    """Every float Linear layer of `model` as (its parent, its attribute name, the layer), to be replaced."""
    return [
        (parent, name, child)
        for parent in model.modules()
        for name, child in parent.named_children()
        if isinstance(child, torch.nn.Linear)
    ]


def quantize_model(model: Any, kernel: Int8Kernel | None = None) -> int:
    """Replace every Linear of ``model`` (in place) with an ``Int8Linear``; how many int8 layers it then has.

    A ``DirectLlamaForCausalLM`` then has its projections stacked, so fewer, bigger kernel calls run per
    step (the same outputs: each output channel keeps its int8 row and scale).

    0 when the kernel is unavailable (no compiler, no AVX2/AVX-512, failed self-check).
    """
    kernel = kernel or load_int8_kernel()
    if kernel is None:
        return 0
    targets = linear_layers(model)
    for parent, name, child in targets:
        setattr(parent, name, Int8Linear(child, kernel))
    del targets
    if isinstance(model, DirectLlamaForCausalLM):
        # Stacked after quantizing: int8 rows and scales are concatenated, never a float copy of the weights.
        model.fuse_projections(functools.partial(Int8Linear.stacked, kernel=kernel))
    if getattr(model.config, "tie_word_embeddings", False):
        model.config.tie_word_embeddings = False  # lm_head now has its own (int8) weights
    return sum(1 for module in model.modules() if isinstance(module, Int8Linear))


@functools.cache
def load_int8_kernel(cache_dir: Path | None = None, march: str = "native") -> Int8Kernel | None:
    """The compiled kernel, built first if needed; None (logged) where it is missing, scalar-only or wrong."""
    compiler = find_compiler()
    if not compiler:
        logger.info("no C compiler found: no int8 kernel")
        return None
    flags = (f"-march={march}", *COMMON_FLAGS)
    try:
        kernel = Int8Kernel(*build_and_load("int8_matmul", compiler, flags, SOURCE, (), cache_dir))
    except (OSError, subprocess.SubprocessError) as error:
        logger.warning("could not build the int8 kernel: %s", error)
        return None
    if kernel.simd_width == 0:
        logger.info("no AVX-512 or AVX2+FMA on this CPU: no int8 kernel")
        return None
    if not _self_check(kernel):
        logger.warning("the int8 kernel gave wrong results; not used")
        return None
    return kernel


def _self_check(kernel: Int8Kernel) -> bool:
    generator = torch.Generator().manual_seed(0)
    for rows, in_features, out_features in ((1, 72, 5), (11, 64, 9)):
        x = torch.randn((rows, in_features), generator=generator)
        weight = torch.randint(-127, 128, (out_features, in_features), generator=generator, dtype=torch.int8)
        scale = torch.rand(out_features, generator=generator) / 100
        bias = torch.randn(out_features, generator=generator)
        expected = x @ (weight.float() * scale[:, None]).T + bias
        if not torch.allclose(kernel.linear(x, weight, scale, bias), expected, atol=1e-4, rtol=1e-4):
            return False
    return True
