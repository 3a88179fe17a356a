"""A Llama-architecture causal LM in plain torch, read straight from a safetensors file without copying it.

It exists because importing transformers and building its model costs more than the rest of a start
(measured: ~1.2 s of imports plus ~2 s in `from_pretrained`, nearly all of it imports, for a 135M model
whose weights load in a tenth of a second). It implements only what the engine's scheduler calls —
`model.model(input_ids, position_ids, attention_mask, use_cache, packed_batch=...)` and `model.lm_head` —
with the engine's packed attention, and computes what transformers' `LlamaForCausalLM` computes
(checked logit for logit in tests/engine/test_direct_llama.py). Anything else (GGUF, sharded files, rope
scaling, other architectures) goes through transformers.
"""

from __future__ import annotations

import json
import mmap
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional

from bot.engine.packed_attention import BATCH_KWARG, PackedBatch, packed_attention_forward

WEIGHTS_FILE = "model.safetensors"
# Builds one layer computing the given layers' outputs side by side (see `fuse_projections`).
Stacker = Callable[[Sequence[nn.Module]], nn.Module]
SAFETENSORS_DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}


class UnsupportedModel(Exception):
    """The model directory is not one this module can run (the caller falls back to transformers)."""


@dataclass
class DirectLlamaConfig:
    """The few fields of a Llama `config.json` the forward pass needs (mutable: the engine tags it)."""

    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rms_norm_eps: float
    rope_theta: float
    vocab_size: int
    tie_word_embeddings: bool
    _attn_implementation: str = "packed"

    @classmethod
    def read(cls, directory: Path) -> DirectLlamaConfig:
        """Parse `config.json`; `UnsupportedModel` for anything but a plain Llama with default rope."""
        try:
            raw: dict[str, Any] = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UnsupportedModel(f"no readable config.json in {directory}: {exc}") from exc
        if raw.get("architectures") != ["LlamaForCausalLM"] or raw.get("hidden_act", "silu") != "silu":
            raise UnsupportedModel(f"architecture {raw.get('architectures')} is not a plain Llama")
        if raw.get("attention_bias") or raw.get("mlp_bias") or raw.get("pretraining_tp", 1) != 1:
            raise UnsupportedModel("biases or tensor-parallel weights are not supported")
        rope = raw.get("rope_parameters") or {"rope_type": "default", "rope_theta": raw.get("rope_theta", 10000.0)}
        if raw.get("rope_scaling") or rope.get("rope_type", "default") != "default":
            raise UnsupportedModel(f"rope scaling {rope.get('rope_type')!r} is not supported")
        heads = int(raw["num_attention_heads"])
        return cls(
            hidden_size=int(raw["hidden_size"]),
            intermediate_size=int(raw["intermediate_size"]),
            num_hidden_layers=int(raw["num_hidden_layers"]),
            num_attention_heads=heads,
            num_key_value_heads=int(raw.get("num_key_value_heads") or heads),
            head_dim=int(raw.get("head_dim") or int(raw["hidden_size"]) // heads),
            rms_norm_eps=float(raw.get("rms_norm_eps", 1e-6)),
            rope_theta=float(rope.get("rope_theta", 10000.0)),
            vocab_size=int(raw["vocab_size"]),
            tie_word_embeddings=bool(raw.get("tie_word_embeddings", False)),
        )


@dataclass(frozen=True)
class DirectGenerationConfig:
    """`generation_config.json`'s end-of-sequence ids (what the engine reads of it)."""

    eos_token_id: int | list[int] | None


class Linear(nn.Linear):
    """A bias-free `nn.Linear` left uninitialised: its weight is replaced by the file's at once.

    (Random initialisation of 135M weights costs seconds; building on the meta device instead imports
    torch's meta kernels, which costs as much.)
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features, bias=False)

    def reset_parameters(self) -> None:
        return None


class Embedding(nn.Embedding):
    """An `nn.Embedding` left uninitialised, like `Linear`."""

    def reset_parameters(self) -> None:
        return None


class RMSNorm(nn.Module):
    """Root-mean-square layer norm, computed in float32 like transformers' `LlamaRMSNorm`."""

    def __init__(self, size: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if hidden.dtype == torch.float32:  # one fused op instead of six (the same values, checked in tests)
            return functional.rms_norm(hidden, self.weight.shape, self.weight, self.eps)
        dtype = hidden.dtype
        as_float = hidden.to(torch.float32)
        as_float = as_float * torch.rsqrt(as_float.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * as_float.to(dtype)


def rope_inverse_frequencies(config: DirectLlamaConfig) -> torch.Tensor:
    """Rotary embedding frequencies, computed like transformers' default rope."""
    exponents = torch.arange(0, config.head_dim, 2, dtype=torch.int64).to(torch.float32) / config.head_dim
    return 1.0 / (config.rope_theta**exponents)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """The rotary embedding of ``x`` [batch, tokens, heads, head_dim]; ``cos``/``sin`` [batch, tokens, 1, head_dim]."""
    return x * cos + _rotate_half(x) * sin


class Attention(nn.Module):
    """Grouped-query self-attention; the attention itself is the engine's packed kernel."""

    def __init__(self, config: DirectLlamaConfig, layer_idx: int) -> None:
        super().__init__()
        self.layer_idx = layer_idx
        self.head_dim = config.head_dim
        self.scaling = config.head_dim**-0.5
        self.q_proj = Linear(config.hidden_size, config.num_attention_heads * config.head_dim)
        self.k_proj = Linear(config.hidden_size, config.num_key_value_heads * config.head_dim)
        self.v_proj = Linear(config.hidden_size, config.num_key_value_heads * config.head_dim)
        self.o_proj = Linear(config.num_attention_heads * config.head_dim, config.hidden_size)
        # After `fuse`: q, k and v as one layer, and the widths to split its output into.
        self.qkv_proj: nn.Module | None = None
        self.qkv_sizes = (self.q_proj.out_features, self.k_proj.out_features, self.v_proj.out_features)

    def fuse(self, stack: Stacker) -> None:
        """Replace q/k/v with one layer of their stacked weights (one matmul call instead of three)."""
        self.qkv_proj = stack((self.q_proj, self.k_proj, self.v_proj))
        del self.q_proj, self.k_proj, self.v_proj

    def forward(self, hidden: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, batch: PackedBatch | None) -> Any:
        shape = (*hidden.shape[:-1], -1, self.head_dim)
        if self.qkv_proj is not None:
            # Queries and keys side by side in the stacked output: the rotary embedding in one pass.
            rows = self.qkv_proj(hidden)
            width = self.qkv_sizes[0] + self.qkv_sizes[1]
            rotated = _rotate(rows[..., :width].view(shape), cos, sin)
            query, key = rotated.split((self.qkv_sizes[0] // self.head_dim, self.qkv_sizes[1] // self.head_dim), 2)
            value = rows[..., width:].view(shape)
            query, key, value = query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2)
        else:
            query = _rotate(self.q_proj(hidden).view(shape), cos, sin).transpose(1, 2)
            key = _rotate(self.k_proj(hidden).view(shape), cos, sin).transpose(1, 2)
            value = self.v_proj(hidden).view(shape).transpose(1, 2)
        if batch is not None:
            passed: dict[str, Any] = {BATCH_KWARG: batch}  # the keyword the scheduler passes it under
            attended, _ = packed_attention_forward(self, query, key, value, None, scaling=self.scaling, **passed)
        else:  # one causal sequence (tests, warm-ups): plain SDPA
            attended = functional.scaled_dot_product_attention(
                query, key, value, is_causal=query.shape[2] > 1, scale=self.scaling, enable_gqa=True
            ).transpose(1, 2)
        return self.o_proj(attended.reshape(*hidden.shape[:-1], -1).contiguous())


class DecoderLayer(nn.Module):
    """Pre-norm attention and SiLU-gated MLP, each with a residual connection."""

    def __init__(self, config: DirectLlamaConfig, layer_idx: int) -> None:
        super().__init__()
        self.self_attn = Attention(config, layer_idx)
        self.mlp = MLP(config)
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(self, hidden: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, batch: PackedBatch | None) -> Any:
        hidden = hidden + self.self_attn(self.input_layernorm(hidden), cos, sin, batch)
        return hidden + self.mlp(self.post_attention_layernorm(hidden))


class MLP(nn.Module):
    """down(silu(gate(x)) * up(x))."""

    def __init__(self, config: DirectLlamaConfig) -> None:
        super().__init__()
        self.gate_proj = Linear(config.hidden_size, config.intermediate_size)
        self.up_proj = Linear(config.hidden_size, config.intermediate_size)
        self.down_proj = Linear(config.intermediate_size, config.hidden_size)
        self.gate_up_proj: nn.Module | None = None  # after `fuse`: gate and up as one layer

    def fuse(self, stack: Stacker) -> None:
        """Replace gate/up with one layer of their stacked weights (one matmul call instead of two)."""
        self.gate_up_proj = stack((self.gate_proj, self.up_proj))
        del self.gate_proj, self.up_proj

    def forward(self, hidden: torch.Tensor) -> Any:
        if self.gate_up_proj is not None:
            gate, up = self.gate_up_proj(hidden).chunk(2, dim=-1)
            return self.down_proj(functional.silu(gate) * up)
        return self.down_proj(functional.silu(self.gate_proj(hidden)) * self.up_proj(hidden))


def stack_linear(layers: Sequence[nn.Module]) -> nn.Module:
    """One bias-free Linear whose output is the given Linear layers' outputs side by side."""
    assert all(isinstance(layer, nn.Linear) for layer in layers)
    weights = [layer.weight.detach() for layer in layers if isinstance(layer, nn.Linear)]
    stacked = Linear(weights[0].shape[1], sum(weight.shape[0] for weight in weights))
    stacked.weight = nn.Parameter(torch.cat(weights), requires_grad=False)
    return stacked


@dataclass(frozen=True)
class DirectModelOutput:
    """What the scheduler reads of the model's output (transformers' `BaseModelOutputWithPast` field)."""

    last_hidden_state: torch.Tensor


class DirectLlamaModel(nn.Module):
    """Embeddings, decoder layers and the final norm (transformers' `LlamaModel`)."""

    def __init__(self, config: DirectLlamaConfig) -> None:
        super().__init__()
        self.config = config
        self.embed_tokens = Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(config, index) for index in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.inv_freq: torch.Tensor
        self.register_buffer("inv_freq", rope_inverse_frequencies(config), persistent=False)

    def forward(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        use_cache: bool = False,
        **kwargs: Any,
    ) -> DirectModelOutput:
        batch: PackedBatch | None = kwargs.get(BATCH_KWARG)
        hidden = self.embed_tokens(input_ids)
        freqs = position_ids[:, :, None].to(torch.float32) * self.inv_freq[None, None, :].to(hidden.device)
        angles = torch.cat((freqs, freqs), dim=-1)
        # Shaped once per step for every layer: [batch, tokens, 1 (all heads), head_dim].
        cos, sin = angles.cos().to(hidden.dtype).unsqueeze(2), angles.sin().to(hidden.dtype).unsqueeze(2)
        for layer in self.layers:
            hidden = layer(hidden, cos, sin, batch)
        return DirectModelOutput(self.norm(hidden))


class DirectLlamaForCausalLM(nn.Module):
    """The model plus its output projection, shaped like transformers' `LlamaForCausalLM` where the engine looks."""

    packed_attention_builtin = True  # the engine need not register its attention with transformers

    def __init__(self, config: DirectLlamaConfig, generation_config: DirectGenerationConfig) -> None:
        super().__init__()
        self.config = config
        self.generation_config = generation_config
        self.model = DirectLlamaModel(config)
        self.lm_head = Linear(config.hidden_size, config.vocab_size)

    def fuse_projections(self, stack: Stacker = stack_linear) -> None:
        """Per layer, q/k/v as one layer and gate/up as one: three fewer matmul calls per layer and step.

        ``stack`` builds the stacked layer from the separate ones (``stack_linear`` for float Linear layers;
        ``bot.engine.int8_linear`` stacks its int8 layers, whose per-output-channel scales stay the same).
        """
        for layer in self.model.layers:
            assert isinstance(layer, DecoderLayer)
            layer.self_attn.fuse(stack)
            layer.mlp.fuse(stack)

    @property
    def device(self) -> torch.device:
        return self.model.embed_tokens.weight.device

    def forward(self, input_ids: torch.Tensor, position_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Logits for every position of one causal sequence (for tests; the engine calls `model` and `lm_head`)."""
        if position_ids is None:
            position_ids = torch.arange(input_ids.shape[1], device=input_ids.device)[None, :]
        hidden: torch.Tensor = self.model(input_ids=input_ids, position_ids=position_ids).last_hidden_state
        logits: torch.Tensor = self.lm_head(hidden)
        return logits


def map_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a safetensors file as a view of one private (copy-on-write) mapping of it.

    Nothing is read until a page is touched, and untouched pages stay shared with the OS page cache.
    """
    with path.open("rb") as handle:
        header_size = struct.unpack("<Q", handle.read(8))[0]
        header: dict[str, Any] = json.loads(handle.read(header_size))
        mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY)
    base = 8 + header_size
    tensors: dict[str, torch.Tensor] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = SAFETENSORS_DTYPES.get(entry["dtype"])
        if dtype is None:
            raise UnsupportedModel(f"tensor {name} has dtype {entry['dtype']}")
        start, end = entry["data_offsets"]
        count = (end - start) // torch.empty((), dtype=dtype).element_size()
        flat = torch.frombuffer(mapping, dtype=dtype, count=count, offset=base + start) if count else torch.empty(0)
        tensors[name] = flat.view(entry["shape"])
    return tensors


def load_direct_llama(directory: Path, dtype: torch.dtype) -> DirectLlamaForCausalLM:
    """The model in `directory` (config.json + one model.safetensors), its weights mapped, not copied.

    Raises `UnsupportedModel` when the directory holds anything this module does not run.
    """
    config = DirectLlamaConfig.read(directory)
    weights_path = directory / WEIGHTS_FILE
    if not weights_path.is_file():
        raise UnsupportedModel(f"no single {WEIGHTS_FILE} in {directory}")
    generation_file = directory / "generation_config.json"
    eos: int | list[int] | None = None
    if generation_file.is_file():
        eos = json.loads(generation_file.read_text(encoding="utf-8")).get("eos_token_id")
    model = DirectLlamaForCausalLM(config, DirectGenerationConfig(eos))
    weights = map_safetensors(weights_path)
    if config.tie_word_embeddings or "lm_head.weight" not in weights:
        weights["lm_head.weight"] = weights["model.embed_tokens.weight"]
    if any(tensor.dtype != dtype for tensor in weights.values()):
        weights = {name: tensor.to(dtype) for name, tensor in weights.items()}
    missing, unexpected = model.load_state_dict(weights, strict=False, assign=True)
    if missing or unexpected:
        raise UnsupportedModel(f"weights do not fit a Llama: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model.eval()
