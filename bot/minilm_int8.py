"""MiniLM's transformer layers as int8 products in C (``minilm_int8.c``), for the numpy encoder's forward.

Why: the float numpy forward costs ~18 CPU-ms for one short message (products too small for OpenBLAS to run
at speed, one memory pass per elementwise op), and every incoming message runs it in several models. The
kernel takes the message's real tokens only (a batch is packed end to end, no padding), rounds each weight
per output channel and each activation row twice over to int8 (about 15 bits, as the engine's fused decode
step), and does the glue in float32. Pooled vectors stay within a tolerance of the float forward (tested);
where the CPU has no AVX-512 VNNI, there is no compiler, or ``SOCIALBOT_MINILM_INT8=0``, callers keep the float
forward.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import dataclasses
import functools
import itertools
import logging
import os
import subprocess
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bot.minilm_layers import HF_LAYER_NAMES, EncoderConfig, LayerWeights
from bot.native_build import COMMON_FLAGS, build_and_load, find_compiler

logger = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("minilm_int8.c")
DISABLE_VARIABLE = "SOCIALBOT_MINILM_INT8"
# The kernel's order of a layer's parameter pointers (its enum).
LAYER_PARAMETERS = 36
# Outputs per weight tile (the kernel's TILE_OUT): the packed layout depends on it.
TILE_OUTPUTS = 64
# Products that carry their weights' rounding error as a second int8 matrix. The feed-forward output's weights
# have the largest outliers (a channel's largest weight up to 38x its RMS) and moved pooled vectors most.
FINE_PRODUCTS = frozenset(os.environ.get("SOCIALBOT_MINILM_FINE", "output").split(","))
# Products whose activations are rounded once (7 bits) instead of twice over: half their multiply-adds.
COARSE_PRODUCTS = frozenset(name for name in os.environ.get("SOCIALBOT_MINILM_COARSE", "").split(",") if name)

Floats = NDArray[np.float32]


@dataclass(frozen=True)
class Int8Matrix:
    """Int8 weights packed [out / 64][in / 4][64][4] for the kernel (each 64-output tile's weights contiguous, four
    consecutive inputs of one output side by side), with a scale and the int8 sum of each output."""

    packed: NDArray[np.int8]
    scale: Floats
    sums: NDArray[np.int32]

    @classmethod
    def rounded(cls, weight: Floats) -> Int8Matrix:
        """``weight`` (in, out) rounded per output channel to int8 (largest magnitude -> 127)."""
        in_features, out_features = weight.shape
        scale = np.maximum(np.abs(weight).max(axis=0), np.float32(1e-12)) / np.float32(127.0)
        quantized = np.clip(np.rint(weight / scale[None, :]), -127, 127).astype(np.int8)
        tiles = out_features // TILE_OUTPUTS
        packed = np.ascontiguousarray(quantized.reshape(in_features // 4, 4, tiles, TILE_OUTPUTS).transpose(2, 0, 3, 1))
        return cls(packed, np.ascontiguousarray(scale, dtype=np.float32), quantized.sum(axis=0, dtype=np.int32))

    def dequantized(self) -> Floats:
        """The (in, out) float weights this matrix stands for."""
        tiles, in_quarters, tile_outputs, _ = self.packed.shape
        weight = self.packed.transpose(1, 3, 0, 2).reshape(in_quarters * 4, tiles * tile_outputs).astype(np.float32)
        result: Floats = weight * self.scale[None, :]
        return result


@dataclass(frozen=True)
class Int8Linear:
    """One linear layer for the kernel: its int8 weights, and optionally their rounding error as a second int8
    matrix (``fine``, ~15 bits in all), for the products whose rounding moves the pooled vector most."""

    coarse: Int8Matrix
    bias: Floats
    fine: Int8Matrix | None = None
    activation_levels: NDArray[np.int32] = dataclasses.field(default_factory=lambda: np.array([2], dtype=np.int32))

    @classmethod
    def from_float(cls, weight: Floats, bias: Floats, fine: bool = False, coarse: bool = False) -> Int8Linear:
        """From ``weight`` (in, out) as the numpy encoder multiplies it (``x @ weight``) and its bias; ``coarse``
        rounds the activations it meets once instead of twice over."""
        rounded = Int8Matrix.rounded(weight)
        error = Int8Matrix.rounded(weight - rounded.dequantized()) if fine else None
        levels = np.array([1 if coarse else 2], dtype=np.int32)
        return cls(rounded, np.ascontiguousarray(bias, dtype=np.float32), error, levels)

    def dequantized(self) -> Floats:
        """The (in, out) float weights the kernel multiplies by (for checks)."""
        weight = self.coarse.dequantized()
        return weight if self.fine is None else weight + self.fine.dequantized()

    def arrays(self) -> list[NDArray[np.generic] | None]:
        """In the kernel's order: weights, scale, sums, bias, the fine weights, scale and sums (or None), then the
        activations' levels."""
        fine = self.fine
        rest: list[NDArray[np.generic] | None] = [None] * 3 if fine is None else [fine.packed, fine.scale, fine.sums]
        return [self.coarse.packed, self.coarse.scale, self.coarse.sums, self.bias, *rest, self.activation_levels]


@dataclass(frozen=True)
class Int8Layer:
    """A transformer layer's four products in int8, its LayerNorms as they are."""

    qkv: Int8Linear
    attention_output: Int8Linear
    attention_norm: tuple[Floats, Floats]
    intermediate: Int8Linear
    output: Int8Linear
    output_norm: tuple[Floats, Floats]

    @classmethod
    def from_layer(
        cls, layer: LayerWeights, fine: frozenset[str] = FINE_PRODUCTS, coarse: frozenset[str] = COARSE_PRODUCTS
    ) -> Int8Layer:
        """``fine``: the products whose weights carry their rounding error; ``coarse``: those whose activations
        are rounded once."""

        def product(name: str, weight: Floats, bias: Floats) -> Int8Linear:
            return Int8Linear.from_float(weight, bias, fine=name in fine, coarse=name in coarse)

        return cls(
            qkv=product("qkv", layer.qkv_weight, layer.qkv_bias),
            attention_output=product("attention_output", layer.attention_output_weight, layer.attention_output_bias),
            attention_norm=(layer.attention_norm_weight, layer.attention_norm_bias),
            intermediate=product("intermediate", layer.intermediate_weight, layer.intermediate_bias),
            output=product("output", layer.output_weight, layer.output_bias),
            output_norm=(layer.output_norm_weight, layer.output_norm_bias),
        )

    def pointers(self) -> list[int | None]:
        """The arrays' addresses in the kernel's order, None for an absent one (they live as long as this layer)."""
        arrays: list[NDArray[np.generic] | None] = [
            *self.qkv.arrays(),
            *self.attention_output.arrays(),
            *self.attention_norm,
            *self.intermediate.arrays(),
            *self.output.arrays(),
            *self.output_norm,
        ]
        return [None if array is None else array.ctypes.data for array in arrays]


class _LayerCache:
    """One int8 copy per float layer object: fine-tuned encoders share the bundled one's untouched layers, and
    so share their int8 copies too. Entries go when their float layer is collected."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._layers: dict[tuple[int, frozenset[str]], Int8Layer] = {}

    def get(self, layer: LayerWeights, coarse: frozenset[str]) -> Int8Layer:
        key = (id(layer), coarse)
        with self._lock:
            found = self._layers.get(key)
            if found is None:
                found = self._layers[key] = Int8Layer.from_layer(layer, coarse=coarse)
                weakref.finalize(layer, self._layers.pop, key, None)
            return found


_layer_cache = _LayerCache()


class MiniLMKernel:
    """The loaded library: runs a stack of int8 layers over packed token states in place."""

    def __init__(self, library: ctypes.CDLL, path: Path) -> None:
        self.path = path
        available = library.socialbot_minilm_available
        available.restype = ctypes.c_int
        self.available = bool(available())
        per_layer = library.socialbot_minilm_parameters_per_layer
        per_layer.restype = ctypes.c_int
        if per_layer() != LAYER_PARAMETERS:
            raise OSError(f"{path}: the kernel takes {per_layer()} parameters per layer, not {LAYER_PARAMETERS}")
        function = library.socialbot_minilm_forward
        function.restype = ctypes.c_int
        function.argtypes = [
            ctypes.c_int64,  # sequences
            ctypes.c_void_p,  # offsets [sequences + 1] int64
            ctypes.c_int64,  # hidden
            ctypes.c_int64,  # heads
            ctypes.c_int64,  # intermediate
            ctypes.c_float,  # layer norm eps
            ctypes.c_int64,  # layers
            ctypes.c_void_p,  # parameter pointers [layers * LAYER_PARAMETERS]
            ctypes.c_void_p,  # states [tokens][hidden] float32, in place
        ]
        self._function = function

    @staticmethod
    def supports(config: EncoderConfig) -> bool:
        """Whether the kernel takes this shape (64-wide output tiles, heads a multiple of 16 wide)."""
        hidden, heads = config.hidden_size, config.num_heads
        if hidden % 64 or config.intermediate_size % 64 or heads <= 0 or hidden % heads:
            return False
        return (hidden // heads) % 16 == 0 and hidden // heads <= 256

    def stack(
        self, config: EncoderConfig, layers: Sequence[LayerWeights], coarse: frozenset[str] | None = None
    ) -> Int8Stack:
        """The int8 form of ``layers`` (quantized once per float layer and activation rounding, and shared), with
        the products in ``coarse`` (default: ``SOCIALBOT_MINILM_COARSE``, none) meeting one activation level."""
        chosen = COARSE_PRODUCTS if coarse is None else coarse
        return Int8Stack(self, config, tuple(_layer_cache.get(layer, chosen) for layer in layers))

    def run(self, stack: Int8Stack, states: Floats, offsets: NDArray[np.int64]) -> None:
        status = self._function(
            len(offsets) - 1,
            offsets.ctypes.data,
            stack.config.hidden_size,
            stack.config.num_heads,
            stack.config.intermediate_size,
            stack.config.layer_norm_eps,
            len(stack.layers),
            ctypes.addressof(stack.pointers),
            states.ctypes.data,
        )
        if status != 0:
            raise RuntimeError(f"the MiniLM int8 kernel refused its arguments (status {status})")


class Int8Stack:
    """An encoder's layers in int8 with their pointer table built once."""

    def __init__(self, kernel: MiniLMKernel, config: EncoderConfig, layers: tuple[Int8Layer, ...]) -> None:
        self.kernel = kernel
        self.config = config
        self.layers = layers
        addresses = [address for layer in layers for address in layer.pointers()]
        self.pointers = (ctypes.c_void_p * len(addresses))(*addresses)

    def __call__(self, states: Floats, offsets: NDArray[np.int64]) -> Floats:
        """``states`` (tokens, hidden) after every layer; sequence ``n`` is rows ``offsets[n]:offsets[n + 1]``.

        With :func:`set_kernel_threads` above 1, a batch of at least ``PARALLEL_MIN_SEQUENCES`` sequences is cut
        into that many runs of whole sequences with about equal tokens, one kernel call each on its own thread
        (ctypes lets go of the GIL; each call has its own scratch memory): the outputs are the same."""
        result = np.ascontiguousarray(states, dtype=np.float32).copy()
        bounds = np.ascontiguousarray(offsets, dtype=np.int64)
        parts = token_balanced_parts(bounds, kernel_threads())
        if len(parts) == 1:
            self.kernel.run(self, result, bounds)
            return result
        calls = [
            _pool().submit(
                self.kernel.run, self, result[bounds[start] : bounds[end]], bounds[start : end + 1] - bounds[start]
            )
            for start, end in parts
        ]
        for call in calls:
            call.result()
        return result


# Fewer sequences than this are not split between threads: one message's layers are too small to share.
PARALLEL_MIN_SEQUENCES = 8
_threads = 1
_executor: concurrent.futures.ThreadPoolExecutor | None = None
_executor_size = 0
_executor_lock = threading.Lock()


def set_kernel_threads(count: int) -> None:
    """How many threads a batch's int8 layers may use (1, the bot's default, leaves the other cores to the engine
    and the gate's own threads; bulk `socialbot moderate` sets its --threads)."""
    global _threads
    _threads = max(1, int(count))


def kernel_threads() -> int:
    return _threads


def _pool() -> concurrent.futures.ThreadPoolExecutor:
    global _executor, _executor_size
    with _executor_lock:
        if _executor is None or _executor_size < _threads:
            _executor = concurrent.futures.ThreadPoolExecutor(max_workers=_threads, thread_name_prefix="minilm-int8")
            _executor_size = _threads
        return _executor


def token_balanced_parts(offsets: NDArray[np.int64], threads: int) -> list[tuple[int, int]]:
    """Runs ``(first sequence, end sequence)`` of about equal token counts, at most ``threads`` of them."""
    sequences = len(offsets) - 1
    if threads <= 1 or sequences < PARALLEL_MIN_SEQUENCES:
        return [(0, sequences)]
    total = int(offsets[-1])
    cuts = [0]
    for part in range(1, threads):
        cut = int(np.searchsorted(offsets, total * part / threads))
        cut = min(max(cut, cuts[-1] + 1), sequences - (threads - part))
        cuts.append(cut)
    cuts.append(sequences)
    return [(start, end) for start, end in itertools.pairwise(cuts) if end > start]


def int8_enabled() -> bool:
    """False when ``SOCIALBOT_MINILM_INT8`` is 0/false/no/off (the float forward is then used everywhere)."""
    return os.environ.get(DISABLE_VARIABLE, "1").strip().lower() not in {"0", "false", "no", "off"}


@functools.cache
def load_minilm_kernel(cache_dir: Path | None = None, march: str = "native") -> MiniLMKernel | None:
    """The compiled kernel, built first if needed; None (logged) without a compiler or AVX-512 VNNI, or when its
    self-check fails."""
    compiler = find_compiler()
    if not compiler:
        logger.info("no C compiler found: the MiniLM encoder runs its float numpy forward")
        return None
    try:
        library, path = build_and_load(
            "minilm_int8", compiler, (f"-march={march}", *COMMON_FLAGS), SOURCE, (), cache_dir
        )
        kernel = MiniLMKernel(library, path)
    except (OSError, subprocess.SubprocessError) as error:
        logger.warning("could not build the MiniLM int8 kernel: %s", error)
        return None
    if not kernel.available:
        logger.info("no AVX-512 VNNI on this CPU: the MiniLM encoder runs its float numpy forward")
        return None
    if not _self_check(kernel):
        logger.warning("the MiniLM int8 kernel gave wrong results; the float numpy forward is used")
        return None
    return kernel


def _self_check(kernel: MiniLMKernel) -> bool:
    """A random two-layer encoder on two sequences (lengths off the SIMD widths) against the float forward with
    the same int8-rounded weights: what is left is the activations' rounding (~15 bits) and the glue's."""
    config = EncoderConfig(hidden_size=64, num_layers=2, num_heads=4, intermediate_size=128)
    layers = [random_layer(config, seed) for seed in range(config.num_layers)]
    # Both activation levels everywhere: what is left against the float forward is then well under atol.
    stack = Int8Stack(kernel, config, tuple(Int8Layer.from_layer(layer, coarse=frozenset()) for layer in layers))
    reference = [dequantized_layer(layer, int8) for layer, int8 in zip(layers, stack.layers, strict=True)]
    offsets = np.array([0, 3, 20], dtype=np.int64)
    states = np.random.default_rng(2).standard_normal((20, config.hidden_size)).astype(np.float32)
    got = stack(states, offsets)
    for begin, end in itertools.pairwise(offsets.tolist()):
        expected = states[None, begin:end]
        for layer in reference:
            bias = np.zeros((1, 1, 1, end - begin), np.float32)
            expected = layer.forward(expected, bias, config.num_heads, config.layer_norm_eps)
        if not np.allclose(got[begin:end], expected[0], atol=2e-3, rtol=0):
            return False
    return True


def random_layer(config: EncoderConfig, seed: int) -> LayerWeights:
    """A layer of ``config``'s shape with random weights (unit-variance outputs), for checks."""
    generator = np.random.default_rng(seed)
    state: dict[str, Floats] = {}
    for part in HF_LAYER_NAMES.values():
        rows = config.intermediate_size if part == "intermediate" else config.hidden_size
        columns = config.intermediate_size if part == "output" else config.hidden_size
        if part.endswith("norm"):
            weight = 1 + 0.1 * generator.standard_normal(rows)
        else:
            weight = generator.standard_normal((rows, columns)) / np.sqrt(columns)
        state[f"{part}.weight"] = weight.astype(np.float32)
        state[f"{part}.bias"] = (0.1 * generator.standard_normal(rows)).astype(np.float32)
    return LayerWeights.from_state(state)


def dequantized_layer(layer: LayerWeights, int8: Int8Layer) -> LayerWeights:
    """``layer`` with its four products' weights replaced by the int8 ones the kernel multiplies by."""
    return dataclasses.replace(
        layer,
        qkv_weight=int8.qkv.dequantized(),
        attention_output_weight=int8.attention_output.dequantized(),
        intermediate_weight=int8.intermediate.dequantized(),
        output_weight=int8.output.dequantized(),
    )
