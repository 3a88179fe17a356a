"""The bundled MiniLM encoder as a torch model, for the training scripts (heads and top layers train in torch).

Runtime scoring uses :mod:`bot.minilm_numpy` (same weights, same maths, no torch import); this model is the one
``scripts/`` fine-tune and the one the numpy forward is tested against. Parameter names match Hugging Face BERT's
through :func:`bot.minilm_layers.rename_hf_key`, so saved fine-tuned layers load into either.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from safetensors.torch import load_file
from torch import nn
from torch.nn import functional

from bot.minilm_layers import EncoderConfig, rename_hf_key
from bot.minilm_numpy import bundled_encoder_dir

HEAD_PREFIX = "head."

# Token ids and masks: torch tensors, or the numpy arrays the runtime tokenizers return.
IdsLike = torch.Tensor | NDArray[np.int64]


def _ids(values: IdsLike) -> torch.Tensor:
    return values if isinstance(values, torch.Tensor) else torch.from_numpy(np.asarray(values, dtype=np.int64))


class EncoderLayer(nn.Module):
    """One post-LayerNorm transformer block, parameter names matching Hugging Face BERT."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        hidden = config.hidden_size
        self.num_heads = config.num_heads
        self.dropout = config.dropout
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.attention_output = nn.Linear(hidden, hidden)
        self.attention_norm = nn.LayerNorm(hidden, eps=config.layer_norm_eps)
        self.intermediate = nn.Linear(hidden, config.intermediate_size)
        self.output = nn.Linear(config.intermediate_size, hidden)
        self.output_norm = nn.LayerNorm(hidden, eps=config.layer_norm_eps)
        self._qkv_cache: tuple[tuple[tuple[int, int, int], ...], torch.Tensor, torch.Tensor] | None = None

    def _stacked_qkv(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The q, k and v projections as one (3 x hidden, hidden) matrix, rebuilt whenever a weight changes."""
        parts = (self.query, self.key, self.value)
        version = tuple((part.weight._version, part.bias._version, part.weight.data_ptr()) for part in parts)
        if self._qkv_cache is None or self._qkv_cache[0] != version:
            with torch.no_grad():
                weight = torch.cat([part.weight for part in parts]).detach()
                bias = torch.cat([part.bias for part in parts]).detach()
            self._qkv_cache = (version, weight, bias)
        return self._qkv_cache[1], self._qkv_cache[2]

    def forward(self, hidden_states: torch.Tensor, attention_bias: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = hidden_states.shape
        head_dim = hidden // self.num_heads

        def split_heads(projected: torch.Tensor) -> torch.Tensor:
            return projected.view(batch, length, self.num_heads, head_dim).transpose(1, 2)

        if self.training:
            query = split_heads(self.query(hidden_states))
            key = split_heads(self.key(hidden_states))
            value = split_heads(self.value(hidden_states))
            scores = query @ key.transpose(-1, -2) / math.sqrt(head_dim) + attention_bias
            probs = functional.dropout(scores.softmax(-1), self.dropout, self.training)
            attended_values = probs @ value
        else:  # one q/k/v projection and the fused attention kernel: same maths, fewer kernel calls
            weight, bias = self._stacked_qkv()
            stacked = functional.linear(hidden_states, weight, bias).view(batch, length, 3, self.num_heads, head_dim)
            query, key, value = stacked.permute(2, 0, 3, 1, 4).unbind(0)
            attended_values = functional.scaled_dot_product_attention(query, key, value, attn_mask=attention_bias)
        context = attended_values.transpose(1, 2).reshape(batch, length, hidden)
        attended = functional.dropout(self.attention_output(context), self.dropout, self.training)
        hidden_states = self.attention_norm(attended + hidden_states)
        expanded = functional.gelu(self.intermediate(hidden_states))
        projected = functional.dropout(self.output(expanded), self.dropout, self.training)
        result: torch.Tensor = self.output_norm(projected + hidden_states)
        return result


class Embeddings(nn.Module):
    """Word + position + token-type embeddings followed by LayerNorm."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embeddings = nn.Embedding(config.max_positions, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(2, config.hidden_size)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = config.dropout

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Embed ``input_ids``; ``token_type_ids`` marks the second text of a pair (all 0 when None)."""
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        token_types = (
            self.token_type_embeddings.weight[0]
            if token_type_ids is None
            else self.token_type_embeddings(token_type_ids)
        )
        summed = self.word_embeddings(input_ids) + self.position_embeddings(positions)[None] + token_types
        result: torch.Tensor = functional.dropout(self.norm(summed), self.dropout, self.training)
        return result


class MiniLMEncoder(nn.Module):
    """The bundled MiniLM encoder with mean pooling, returning one vector per text."""

    def __init__(
        self,
        config: EncoderConfig | None = None,
        embeddings: Embeddings | None = None,
        layers: Sequence[nn.Module] | None = None,
    ) -> None:
        super().__init__()
        self.config = config or EncoderConfig()
        self.embeddings = embeddings or Embeddings(self.config)
        if layers is None:
            layers = [EncoderLayer(self.config) for _ in range(self.config.num_layers)]
        self.layers = nn.ModuleList(layers)

    @classmethod
    def from_pretrained(cls, model_dir: Path | None = None) -> MiniLMEncoder:
        """Load the Hugging Face BERT weights from ``model_dir`` (default: the bundled encoder)."""
        model_dir = model_dir or bundled_encoder_dir()
        encoder = cls()
        renamed = {}
        for name, tensor in load_file(str(model_dir / "model.safetensors")).items():
            new_name = rename_hf_key(name)
            if new_name is not None:
                renamed[new_name] = tensor.float()
        encoder.load_state_dict(renamed, strict=True)
        return encoder.eval()

    def with_layer_overrides(self, state: Mapping[str, torch.Tensor]) -> MiniLMEncoder:
        """A new encoder with the whole transformer layers in ``state`` (fine-tuned ones) and this encoder's
        embeddings and other layers, shared rather than copied: three classifiers over the bundled encoder then
        hold its 47 MB of word embeddings once. Only use it for inference; the shared parts must not be trained.
        """
        by_layer: dict[int, dict[str, torch.Tensor]] = {}
        for name, tensor in state.items():
            match = re.fullmatch(r"layers\.(\d+)\.(.+)", name)
            if match is None or int(match.group(1)) >= len(self.layers):
                raise KeyError(f"not a transformer layer parameter of this encoder: {name}")
            by_layer.setdefault(int(match.group(1)), {})[match.group(2)] = tensor.float()
        layers: list[nn.Module] = []
        for index, shared in enumerate(self.layers):
            if index not in by_layer:
                layers.append(shared)
                continue
            layer = EncoderLayer(self.config)
            layer.load_state_dict(by_layer[index], strict=True)
            layers.append(layer)
        return MiniLMEncoder(self.config, self.embeddings, layers).eval()

    def forward(
        self, input_ids: IdsLike, attention_mask: IdsLike, token_type_ids: IdsLike | None = None
    ) -> torch.Tensor:
        """Mean-pooled last hidden states, shape (batch, hidden); ids may be tensors or numpy arrays."""
        hidden_states = self.embeddings(_ids(input_ids), None if token_type_ids is None else _ids(token_type_ids))
        return self.forward_from_layer(hidden_states, _ids(attention_mask), 0)

    def hidden_states_before(
        self,
        input_ids: IdsLike,
        attention_mask: IdsLike,
        layer_index: int,
        token_type_ids: IdsLike | None = None,
    ) -> torch.Tensor:
        """Hidden states entering layer ``layer_index`` (a trainer caches these for frozen layers)."""
        attention_bias = _attention_bias(_ids(attention_mask))
        hidden_states = self.embeddings(_ids(input_ids), None if token_type_ids is None else _ids(token_type_ids))
        for layer in self.layers[:layer_index]:
            hidden_states = layer(hidden_states, attention_bias)
        return hidden_states

    def forward_from_layer(
        self, hidden_states: torch.Tensor, attention_mask: IdsLike, layer_index: int
    ) -> torch.Tensor:
        """Run layers ``layer_index..`` on ``hidden_states`` and mean-pool the result."""
        attention_mask = _ids(attention_mask)
        mask = attention_mask.to(torch.float32)
        attention_bias = _attention_bias(attention_mask)
        for layer in self.layers[layer_index:]:
            hidden_states = layer(hidden_states, attention_bias)
        summed = (hidden_states * mask[..., None]).sum(1)
        pooled: torch.Tensor = summed / mask.sum(1, keepdim=True).clamp(min=1.0)
        return pooled


@functools.cache
def torch_bundled_encoder() -> MiniLMEncoder:
    """The bundled encoder as a torch model, loaded once per process (for trainers and torch-only code)."""
    return MiniLMEncoder.from_pretrained().eval()


def _attention_bias(attention_mask: torch.Tensor) -> torch.Tensor:
    """Additive attention bias that hides padding positions."""
    mask = attention_mask.to(torch.float32)
    return ((1.0 - mask) * torch.finfo(torch.float32).min)[:, None, None, :]


class BinaryHead(nn.Module):
    """Dropout + linear layer from the pooled sentence vector to one logit."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.dropout = nn.Dropout(0.1)
        self.linear = nn.Linear(hidden_size, 1)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.linear(self.dropout(pooled)).squeeze(-1)
        return logits


def finetuned_state(encoder: MiniLMEncoder, head: BinaryHead, first_trained_layer: int) -> dict[str, torch.Tensor]:
    """What a trainer saves: the trained layers in fp16 and the head in fp32."""
    state = {
        f"layers.{name}": tensor.detach().clone().half().contiguous()
        for name, tensor in encoder.layers.state_dict().items()
        if int(name.split(".")[0]) >= first_trained_layer
    }
    state.update({f"{HEAD_PREFIX}{k}": v.detach().clone().float() for k, v in head.state_dict().items()})
    return state


def load_finetuned_torch(layers_path: Path) -> tuple[MiniLMEncoder, BinaryHead]:
    """The torch encoder with the fine-tuned layers and head in ``layers_path`` (a trainer's or a test's
    reference; the runtime loads the same file with :func:`bot.moderation.classifier.load_finetuned_minilm`)."""
    state = load_file(str(layers_path))
    base = torch_bundled_encoder()
    head = BinaryHead(base.config.hidden_size)
    head.load_state_dict(
        {k.removeprefix(HEAD_PREFIX): v.float() for k, v in state.items() if k.startswith(HEAD_PREFIX)}, strict=True
    )
    encoder = base.with_layer_overrides({k: v for k, v in state.items() if not k.startswith(HEAD_PREFIX)})
    return encoder, head.eval()
