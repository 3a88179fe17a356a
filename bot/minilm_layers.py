"""The MiniLM encoder's shape and one transformer layer's weights and float maths (numpy).

Shared by the float forward (:mod:`bot.minilm_numpy`) and the int8 kernel (:mod:`bot.minilm_int8`), which checks
itself against this maths; kept apart so that neither of those imports the other both ways.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float32]


@dataclass(frozen=True)
class EncoderConfig:
    """Shape of a BERT-style encoder."""

    vocab_size: int = 30522
    hidden_size: int = 384
    num_layers: int = 6
    num_heads: int = 12
    intermediate_size: int = 1536
    max_positions: int = 512
    layer_norm_eps: float = 1e-12
    dropout: float = 0.1


class ArrayLike(Protocol):
    """Anything ``np.asarray`` turns into an array: an ndarray, or a CPU torch tensor a training script holds."""

    def __array__(self) -> NDArray[np.generic]: ...


# Hugging Face BERT parameter names -> the names used here and by the torch model (bot.minilm_torch).
HF_LAYER_NAMES = {
    "attention.self.query": "query",
    "attention.self.key": "key",
    "attention.self.value": "value",
    "attention.output.dense": "attention_output",
    "attention.output.LayerNorm": "attention_norm",
    "intermediate.dense": "intermediate",
    "output.dense": "output",
    "output.LayerNorm": "output_norm",
}


def rename_hf_key(name: str) -> str | None:
    """Map a Hugging Face BERT parameter name onto this project's names (None: not used)."""
    if name.startswith("embeddings."):
        if name.endswith("position_ids"):
            return None
        return name.replace("embeddings.LayerNorm", "embeddings.norm")
    match = re.fullmatch(r"encoder\.layer\.(\d+)\.(.+)\.(weight|bias)", name)
    if match is None:
        return None
    layer, inner, kind = match.groups()
    return f"layers.{layer}.{HF_LAYER_NAMES[inner]}.{kind}"


def _floats(value: ArrayLike) -> Floats:
    return np.ascontiguousarray(np.asarray(value), dtype=np.float32)


# erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, float32's own rounding): numpy has no erf, and SciPy's
# import would cost more than this whole module. GELU here is the exact (erf) one, as in BERT and torch.
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def erf(values: Floats) -> Floats:
    """The error function, elementwise, to float32 precision."""
    result = np.abs(values)
    _erf_magnitude_inplace(result)
    return np.copysign(result, values, out=result)


def _erf_magnitude_inplace(magnitude: Floats) -> None:
    """Replace ``magnitude`` (>= 0) by erf(magnitude), with one scratch array: these passes run over every
    intermediate activation, so fewer temporaries mean far fewer page faults and cache misses."""
    t = np.multiply(magnitude, np.float32(_ERF_P))
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    np.square(magnitude, out=magnitude)
    np.negative(magnitude, out=magnitude)
    np.exp(magnitude, out=magnitude)  # exp(-x^2)
    a1, a2, a3, a4, a5 = (np.float32(value) for value in _ERF_A)
    polynomial = np.multiply(t, a5)
    for coefficient in (a4, a3, a2, a1):
        polynomial += coefficient
        polynomial *= t
    polynomial *= magnitude
    np.subtract(np.float32(1.0), polynomial, out=magnitude)


def gelu_inplace(values: Floats) -> Floats:
    """GELU with the exact Gaussian CDF, x * (1 + erf(x / sqrt 2)) / 2, written into ``values``."""
    cdf = np.abs(values)
    cdf *= np.float32(1.0 / math.sqrt(2.0))
    _erf_magnitude_inplace(cdf)
    np.copysign(cdf, values, out=cdf)
    cdf *= np.float32(0.5)
    cdf += np.float32(0.5)
    values *= cdf
    return values


def gelu(values: Floats) -> Floats:
    """GELU with the exact Gaussian CDF (a new array)."""
    return gelu_inplace(np.array(values, dtype=np.float32))


def layer_norm(values: Floats, weight: Floats, bias: Floats, eps: float) -> Floats:
    """LayerNorm over the last axis (biased variance, as torch), in place on ``values``."""
    values -= values.mean(-1, keepdims=True)
    scale = np.square(values).mean(-1, keepdims=True)
    scale += np.float32(eps)
    np.sqrt(scale, out=scale)
    values /= scale
    values *= weight
    values += bias
    return values


# Rows of the feed-forward step at a time: its (rows, 1536) activations then stay in the CPU's L2 cache.
_FEED_FORWARD_ROWS = 256


@dataclass(frozen=True)
class LayerWeights:
    """One post-LayerNorm transformer block's weights, matrices transposed for ``x @ w``, q/k/v stacked."""

    qkv_weight: Floats  # (hidden, 3 * hidden)
    qkv_bias: Floats
    attention_output_weight: Floats
    attention_output_bias: Floats
    attention_norm_weight: Floats
    attention_norm_bias: Floats
    intermediate_weight: Floats
    intermediate_bias: Floats
    output_weight: Floats
    output_bias: Floats
    output_norm_weight: Floats
    output_norm_bias: Floats

    @classmethod
    def from_state(cls, state: Mapping[str, ArrayLike]) -> LayerWeights:
        """From one layer's parameters named as in :data:`HF_LAYER_NAMES` values (``query.weight`` ...).

        Raises KeyError naming a missing or unexpected parameter, ValueError on a wrong shape.
        """
        expected = {f"{part}.{kind}" for part in HF_LAYER_NAMES.values() for kind in ("weight", "bias")}
        missing, unexpected = expected - set(state), set(state) - expected
        if missing or unexpected:
            raise KeyError(f"layer parameters missing {sorted(missing)}, unexpected {sorted(unexpected)}")
        p = {name: _floats(value) for name, value in state.items()}
        hidden = p["query.weight"].shape[1]
        for name, value in p.items():
            rows = p["intermediate.weight"].shape[0] if name.startswith("intermediate") else hidden
            if value.shape[0] != rows:
                raise ValueError(f"{name} has shape {value.shape}, expected {rows} rows")
        return cls(
            qkv_weight=np.ascontiguousarray(np.concatenate([p["query.weight"], p["key.weight"], p["value.weight"]]).T),
            qkv_bias=np.concatenate([p["query.bias"], p["key.bias"], p["value.bias"]]),
            attention_output_weight=np.ascontiguousarray(p["attention_output.weight"].T),
            attention_output_bias=p["attention_output.bias"],
            attention_norm_weight=p["attention_norm.weight"],
            attention_norm_bias=p["attention_norm.bias"],
            intermediate_weight=np.ascontiguousarray(p["intermediate.weight"].T),
            intermediate_bias=p["intermediate.bias"],
            output_weight=np.ascontiguousarray(p["output.weight"].T),
            output_bias=p["output.bias"],
            output_norm_weight=p["output_norm.weight"],
            output_norm_bias=p["output_norm.bias"],
        )

    def forward(self, hidden_states: Floats, attention_bias: Floats, num_heads: int, eps: float) -> Floats:
        """The block on (batch, length, hidden) states; ``attention_bias`` is (batch, 1, 1, length)."""
        batch, length, hidden = hidden_states.shape
        head_dim = hidden // num_heads
        rows = hidden_states.reshape(batch * length, hidden)
        stacked = rows @ self.qkv_weight
        stacked += self.qkv_bias
        query, key, value = stacked.reshape(batch, length, 3, num_heads, head_dim).transpose(2, 0, 3, 1, 4)
        query = query * np.float32(1.0 / math.sqrt(head_dim))
        scores = query @ np.ascontiguousarray(key.transpose(0, 1, 3, 2))
        scores += attention_bias
        scores -= scores.max(-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(-1, keepdims=True)
        context = (scores @ value).transpose(0, 2, 1, 3).reshape(batch * length, hidden)
        attended = context @ self.attention_output_weight
        attended += self.attention_output_bias
        attended += rows
        attended = layer_norm(attended, self.attention_norm_weight, self.attention_norm_bias, eps)
        output = np.empty_like(attended)
        for start in range(0, attended.shape[0], _FEED_FORWARD_ROWS):
            block = attended[start : start + _FEED_FORWARD_ROWS]
            expanded = block @ self.intermediate_weight
            expanded += self.intermediate_bias
            projected = gelu_inplace(expanded) @ self.output_weight
            projected += self.output_bias
            projected += block
            output[start : start + _FEED_FORWARD_ROWS] = projected
        output = layer_norm(output, self.output_norm_weight, self.output_norm_bias, eps)
        return output.reshape(batch, length, hidden)
