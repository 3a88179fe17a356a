"""Decode steps of an int8 ``DirectLlamaForCausalLM`` with every decoder layer in one C call.

At one to a few decoding sequences a step of the 135M model is mostly Python and tiny torch ops
(measured, one sequence: 42 ms per step, 22 ms of it the int8 matmuls). ``fused_decode.c`` runs the
30 layers' norms, matmuls, rotary embedding, key/value store, attention and residuals in one call,
built from the same int8 matmul and decode-attention C code the per-op path uses (compiled into one
library, once per machine, like them). The embedding lookup, the rotary tables and the final norm
stay in torch; lm_head goes through the library's matmul too. Steps with a prefill chunk in them keep
the per-op path.

Two options change how the matmuls run: two threads (``ThreadChoice``: a helper thread in C takes half
of each matmul's outputs, chosen only when timing says it is faster now), and int8 activations on
AVX-512 VNNI (``precise=False``: each activation row is rounded to int8 twice over, ~15 bits, and
multiplied with ``vpdpbusd``; measured greedy agreement with the per-op path is in the README).

Where the library cannot be built or fails its self-check, or the model is not an int8
``DirectLlamaForCausalLM`` on a CPU, ``FusedDecoder.for_model`` returns None and nothing changes.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import statistics
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from bot.engine.direct_llama import DecoderLayer, DirectLlamaForCausalLM
from bot.engine.int8_linear import Int8Linear
from bot.engine.kv_pool import SequenceKV
from bot.engine.native_attention import SUPPORTED_KV_DTYPES
from bot.native_build import COMMON_FLAGS, build_and_load, find_compiler

logger = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("fused_decode.c")
# Compiled into the same library (``#include``d): a change to either rebuilds it.
INCLUDED = (Path(__file__).with_name("decode_attention.c"), Path(__file__).with_name("int8_matmul.c"))
MAX_TOKENS = 64  # fused_decode.c's MAX_TOKENS
POINTERS_PER_LAYER = 14


class FusedDecodeKernel:
    """The loaded library: ``socialbot_decode_layers`` runs every decoder layer of one decode step."""

    def __init__(self, library: ctypes.CDLL, path: Path) -> None:
        self.path = path
        function = library.socialbot_decode_layers
        function.restype = ctypes.c_int
        function.argtypes = [
            ctypes.c_int64,  # layers
            ctypes.c_void_p,  # weights
            ctypes.c_int64,  # tokens
            ctypes.c_int64,  # hidden
            ctypes.c_int64,  # heads
            ctypes.c_int64,  # kv_heads
            ctypes.c_int64,  # head_dim
            ctypes.c_int64,  # intermediate
            ctypes.c_float,  # eps
            ctypes.c_void_p,  # hidden states (in/out)
            ctypes.c_void_p,  # cos
            ctypes.c_void_p,  # sin
            ctypes.c_int32,  # is_bf16
            ctypes.c_void_p,  # buffers
            ctypes.c_void_p,  # capacities
            ctypes.c_void_p,  # pasts
            ctypes.c_int32,  # threads
            ctypes.c_int32,  # precise
        ]
        self.decode_layers = function
        width = library.socialbot_fused_simd_width
        width.restype = ctypes.c_int
        self.simd_width = int(width())
        linear = library.socialbot_fused_linear
        linear.restype = ctypes.c_int
        linear.argtypes = [ctypes.c_int64] * 3 + [ctypes.c_void_p] * 5 + [ctypes.c_int32]
        self.linear = linear
        vnni = library.socialbot_fused_has_vnni
        vnni.restype = ctypes.c_int
        # Whether the int8-activation matmuls (AVX-512 VNNI) were built in; without them every step is precise.
        self.has_vnni = bool(vnni())


class ThreadChoice:
    """Whether a decode step runs on one thread or two, chosen by timing both now and then.

    Two threads share each matmul (the step is bound by reading weights, which one core does at about
    half the machine's bandwidth) but meet at a barrier ~8 times per layer; when another process holds
    the second core, waiting there costs more than the second core saves. So every ``EXPLOIT_STEPS``
    steps, ``EXPLORE_STEPS`` steps alternate between one and two threads and the faster is kept.
    """

    EXPLORE_STEPS = 16
    EXPLOIT_STEPS = 400

    def __init__(self, most: int) -> None:
        self.most = min(most, 2)
        self.chosen = self.most
        self._step = 0
        self._times: dict[int, list[float]] = {1: [], self.most: []}

    def next(self) -> int:
        """The thread count for the next step."""
        if self._step < self.EXPLORE_STEPS:
            return 1 if self._step % 2 else self.most
        return self.chosen

    def record(self, threads: int, seconds: float) -> None:
        """The wall time of the step just run with ``threads``."""
        self._step += 1
        if self._step <= self.EXPLORE_STEPS:
            self._times[threads].append(seconds)
            if self._step == self.EXPLORE_STEPS:
                one, more = (statistics.median(self._times[n]) for n in (1, self.most))
                self.chosen = 1 if one <= more else self.most
                self._times = {1: [], self.most: []}
        elif self._step >= self.EXPLORE_STEPS + self.EXPLOIT_STEPS:
            self._step = 0


class FusedDecoder:
    """One model's weights as the pointer table the library reads, and the call that decodes a step.

    ``decode`` returns the final-normed hidden states of the new tokens, as the model's
    ``last_hidden_state`` would be, and stores their keys/values in each sequence's cache.
    """

    def __init__(self, model: DirectLlamaForCausalLM, kernel: FusedDecodeKernel, threads: int, precise: bool) -> None:
        config = model.config
        self.precise = precise or not kernel.has_vnni
        self.model = model
        self.kernel = kernel
        self.threads = ThreadChoice(threads) if threads > 1 else None
        self.layers = config.num_hidden_layers
        self.hidden = config.hidden_size
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = config.head_dim
        self.intermediate = config.intermediate_size
        self.eps = float(config.rms_norm_eps)
        pointers: list[int] = []
        self._kept: list[torch.Tensor] = []  # the tensors whose addresses the table holds
        for layer in model.model.layers:
            assert isinstance(layer, DecoderLayer)
            attention, mlp = layer.self_attn, layer.mlp
            qkv, gate_up = attention.qkv_proj, mlp.gate_up_proj
            assert isinstance(qkv, Int8Linear) and isinstance(gate_up, Int8Linear)
            assert isinstance(attention.o_proj, Int8Linear) and isinstance(mlp.down_proj, Int8Linear)
            for tensor in (
                layer.input_layernorm.weight,
                qkv.weight_int8,
                qkv.scale,
                attention.o_proj.weight_int8,
                attention.o_proj.scale,
                layer.post_attention_layernorm.weight,
                gate_up.weight_int8,
                gate_up.scale,
                mlp.down_proj.weight_int8,
                mlp.down_proj.scale,
            ):
                contiguous = tensor.detach().contiguous()
                self._kept.append(contiguous)
                pointers.append(contiguous.data_ptr())
            for matmul in (qkv, attention.o_proj, gate_up, mlp.down_proj):
                sums = matmul.weight_int8.sum(dim=1, dtype=torch.int32).contiguous()
                self._kept.append(sums)
                pointers.append(sums.data_ptr())
        self._table = (ctypes.c_void_p * len(pointers))(*pointers)
        head = model.lm_head
        self._head = head if isinstance(head, Int8Linear) and head.bias is None else None
        self._head_sums = head.weight_int8.sum(dim=1, dtype=torch.int32) if self._head is not None else None

    @staticmethod
    def for_model(
        model: object, kernel: FusedDecodeKernel | None, threads: int = 1, precise: bool = True
    ) -> FusedDecoder | None:
        """A decoder for ``model``, or None when it is not an int8 ``DirectLlamaForCausalLM`` on a CPU."""
        if kernel is None or not isinstance(model, DirectLlamaForCausalLM) or model.device.type != "cpu":
            return None
        for layer in model.model.layers:
            if not isinstance(layer, DecoderLayer):
                return None
            parts = (layer.self_attn.qkv_proj, layer.self_attn.o_proj, layer.mlp.gate_up_proj, layer.mlp.down_proj)
            if not all(isinstance(part, Int8Linear) and part.bias is None for part in parts):
                return None
            if any(
                norm.weight.dtype != torch.float32 for norm in (layer.input_layernorm, layer.post_attention_layernorm)
            ):
                return None
        if model.config.head_dim % 2 or model.config.num_attention_heads % model.config.num_key_value_heads:
            return None
        return FusedDecoder(model, kernel, threads, precise)

    def accepts(self, caches: Sequence[SequenceKV]) -> bool:
        """Whether a decode step over these caches can run fused."""
        return 0 < len(caches) <= MAX_TOKENS and all(
            kv.buffer.dtype in SUPPORTED_KV_DTYPES and kv.buffer.is_contiguous() and kv.buffer.device.type == "cpu"
            for kv in caches
        )

    def decode(self, tokens: Sequence[int], caches: Sequence[SequenceKV]) -> torch.Tensor:
        """Hidden states [1, len(tokens), hidden] after the final norm; token i is appended at caches[i].length."""
        inner = self.model.model
        count = len(tokens)
        pasts = [kv.length for kv in caches]
        hidden = inner.embed_tokens(torch.tensor(tokens)).contiguous()
        freqs = torch.tensor(pasts, dtype=torch.float32)[:, None] * inner.inv_freq[None, :]
        angles = torch.cat((freqs, freqs), dim=-1)
        cos, sin = angles.cos().contiguous(), angles.sin().contiguous()
        buffers = [kv.buffer for kv in caches]
        # Kept in locals for the call: a ctypes array freed before it would leave dangling addresses.
        addresses = (ctypes.c_void_p * count)(*(buffer.data_ptr() for buffer in buffers))
        capacities = (ctypes.c_int64 * count)(*(int(buffer.shape[3]) for buffer in buffers))
        positions = (ctypes.c_int64 * count)(*pasts)
        threads = self.threads.next() if self.threads is not None else 1
        started = time.perf_counter()
        status = self.kernel.decode_layers(
            self.layers,
            ctypes.addressof(self._table),
            count,
            self.hidden,
            self.heads,
            self.kv_heads,
            self.head_dim,
            self.intermediate,
            self.eps,
            hidden.data_ptr(),
            cos.data_ptr(),
            sin.data_ptr(),
            int(buffers[0].dtype == torch.bfloat16),
            ctypes.addressof(addresses),
            ctypes.addressof(capacities),
            ctypes.addressof(positions),
            threads,
            int(self.precise),
        )
        if self.threads is not None:
            self.threads.record(threads, time.perf_counter() - started)
        if status != 0:
            raise RuntimeError(f"the fused decode kernel refused its arguments (status {status})")
        normed: torch.Tensor = inner.norm(hidden)
        return normed.unsqueeze(0)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """lm_head of ``hidden`` [rows, hidden_size] (rows of ``decode``'s output) as float32 [rows, vocab]."""
        head, sums = self._head, self._head_sums
        rows = hidden.reshape(-1, self.hidden).float().contiguous()
        if head is None or sums is None or not 0 < rows.shape[0] <= MAX_TOKENS:
            result: torch.Tensor = self.model.lm_head(rows).float()
            return result
        out = torch.empty((rows.shape[0], head.out_features), dtype=torch.float32)
        status = self.kernel.linear(
            rows.shape[0],
            head.in_features,
            head.out_features,
            rows.data_ptr(),
            head.weight_int8.data_ptr(),
            head.scale.data_ptr(),
            sums.data_ptr(),
            out.data_ptr(),
            int(self.precise),
        )
        if status != 0:
            raise RuntimeError("the fused decode kernel could not compute lm_head")
        return out


@functools.cache
def load_fused_decode(cache_dir: Path | None = None, march: str = "native") -> FusedDecodeKernel | None:
    """The compiled library, built first if needed; None (logged) where it is missing, scalar-only or wrong."""
    compiler = find_compiler()
    if not compiler:
        logger.info("no C compiler found: decode steps run layer by layer")
        return None
    flags = (f"-march={march}", *COMMON_FLAGS, "-pthread")
    try:
        kernel = FusedDecodeKernel(*build_and_load("fused_decode", compiler, flags, SOURCE, INCLUDED, cache_dir))
    except (OSError, subprocess.SubprocessError) as error:
        logger.warning("could not build the fused decode kernel: %s", error)
        return None
    if kernel.simd_width == 0:
        logger.info("no AVX-512 or AVX2+FMA on this CPU: decode steps run layer by layer")
        return None
    if not _self_check(kernel):
        logger.warning("the fused decode kernel gave wrong results; decode steps run layer by layer")
        return None
    return kernel


def _self_check(kernel: FusedDecodeKernel) -> bool:
    """Its matmul, both ways, against torch on sizes off every SIMD width (the layers are checked in tests)."""
    generator = torch.Generator().manual_seed(0)
    for rows, in_features, out_features in ((1, 200, 13), (3, 64, 9)):
        x = torch.randn((rows, in_features), generator=generator)
        weight = torch.randint(-127, 128, (out_features, in_features), generator=generator, dtype=torch.int8)
        scale = torch.rand(out_features, generator=generator) / 100
        sums = weight.sum(dim=1, dtype=torch.int32)
        expected = x @ (weight.float() * scale[:, None]).T
        for precise in (1, 0):
            got = torch.empty((rows, out_features))
            pointers = (x.data_ptr(), weight.data_ptr(), scale.data_ptr(), sums.data_ptr(), got.data_ptr())
            if kernel.linear(rows, in_features, out_features, *pointers, precise) != 0:
                return False
            if not torch.allclose(got, expected, atol=1e-3, rtol=1e-3):
                return False
    return True
