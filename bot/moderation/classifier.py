"""Offensive-language classifiers for incoming messages.

:class:`OffensiveClassifier` is the shipped model: the bundled all-MiniLM-L6-v2 encoder whose top
transformer layers were fine-tuned on OLID (``scripts/train_moderation.py``), plus a linear head.
Only the fine-tuned layers and the head ship (``weights/``); the embeddings and any frozen lower
layers come from the bundled encoder. The metadata names the text normalisation the model was
trained with, and inference applies the same one. :class:`HFSequenceClassifier` wraps any
user-supplied Hugging Face sequence classifier.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

from bot.moderation.embeddings_features import EncoderTokenizer, MiniLMEncoder, shared_bundled_encoder
from bot.moderation.normalization import BASIC, UnknownNormalizationError

LAYERS_FILE = "offensive_minilm_layers.safetensors"
METADATA_FILE = "offensive_classifier.json"
HEAD_PREFIX = "head."
_BATCH_SIZE = 64
# Batches at least this big run in bfloat16 where the CPU multiplies it in hardware (AMX): on OLID's dev split
# that doubled texts per CPU-second (81 -> 160) for dev macro-F1 0.7915 -> 0.7903; a single message stays fp32
# (autocast costs it more than it saves: 15.5 -> 23.6 CPU-ms). Dynamic int8 lost 0.014-0.015 dev macro-F1.
BFLOAT16_MIN_BATCH = 16


class ClassifierLoadError(RuntimeError):
    """Raised when classifier weights are missing or do not match the expected model."""


def default_weights_dir() -> Path:
    """Directory of the weights shipped with the package."""
    return Path(__file__).resolve().parent / "weights"


class BinaryHead(nn.Module):
    """Dropout + linear layer from the pooled sentence vector to one logit."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.dropout = nn.Dropout(0.1)
        self.linear = nn.Linear(hidden_size, 1)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.linear(self.dropout(pooled)).squeeze(-1)
        return logits


def _bundled_encoder() -> MiniLMEncoder:
    """The bundled encoder, loaded once per process; fine-tuned classifiers share its frozen parts."""
    return shared_bundled_encoder()


def bundled_encoder() -> MiniLMEncoder:
    """The frozen bundled encoder shared by every classifier in the process (never fine-tuned in place)."""
    return _bundled_encoder()


def load_finetuned_minilm(layers_path: Path) -> tuple[MiniLMEncoder, BinaryHead]:
    """The bundled encoder with the fine-tuned layers from ``layers_path`` and the trained head (for inference:
    the embeddings and untouched layers are shared with every other classifier loaded this way)."""
    state = load_file(str(layers_path))
    base = _bundled_encoder()
    head = BinaryHead(base.config.hidden_size)
    head_state = {k.removeprefix(HEAD_PREFIX): v.float() for k, v in state.items() if k.startswith(HEAD_PREFIX)}
    try:
        encoder = base.with_layer_overrides({k: v for k, v in state.items() if not k.startswith(HEAD_PREFIX)})
        head.load_state_dict(head_state, strict=True)
    except (KeyError, RuntimeError) as error:
        raise ClassifierLoadError(f"{layers_path}: weights do not fit the model: {error}") from error
    return encoder, head.eval()


def finetuned_state(encoder: MiniLMEncoder, head: BinaryHead, first_trained_layer: int) -> dict[str, torch.Tensor]:
    """What a trainer saves: the trained layers in fp16 and the head in fp32."""
    state = {
        f"layers.{name}": tensor.detach().clone().half().contiguous()
        for name, tensor in encoder.layers.state_dict().items()
        if int(name.split(".")[0]) >= first_trained_layer
    }
    state.update({f"{HEAD_PREFIX}{k}": v.detach().clone().float() for k, v in head.state_dict().items()})
    return state


def read_finetuned_weights(
    weights_dir: Path, layers_file: str, metadata_file: str, train_script: str
) -> tuple[MiniLMEncoder, BinaryHead, dict[str, Any]]:
    """The fine-tuned encoder layers, head and metadata JSON shipped in ``weights_dir``.

    Raises ClassifierLoadError naming the missing files and the script that rebuilds them.
    """
    layers_path, metadata_path = weights_dir / layers_file, weights_dir / metadata_file
    if not layers_path.is_file() or not metadata_path.is_file():
        raise ClassifierLoadError(
            f"{weights_dir}: expected {layers_file} and {metadata_file}; rebuild them with `python {train_script}`"
        )
    try:
        raw_metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ClassifierLoadError(f"{metadata_path}: not valid JSON: {error}") from error
    encoder, head = load_finetuned_minilm(layers_path)
    return encoder, head, raw_metadata


@functools.cache
def hardware_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (Intel AMX), read from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            return any(line.startswith("flags") and " amx_bf16" in line for line in handle)
    except OSError:
        return False


def score_with_head(
    encoder: MiniLMEncoder,
    head: BinaryHead,
    tokenizer: EncoderTokenizer,
    texts: Sequence[str],
    bfloat16_batches: bool = False,
) -> list[float]:
    """Sigmoid probabilities for ``texts``, batched by similar length, in input order.

    With ``bfloat16_batches`` (and AMX), batches of BFLOAT16_MIN_BATCH or more texts run under bfloat16 autocast.
    """
    order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
    scores = [0.0] * len(texts)
    with torch.inference_mode():
        for start in range(0, len(order), _BATCH_SIZE):
            indices = order[start : start + _BATCH_SIZE]
            input_ids, attention_mask = tokenizer([texts[index] for index in indices])
            low = bfloat16_batches and len(indices) >= BFLOAT16_MIN_BATCH and hardware_bfloat16()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=low):
                pooled = encoder(input_ids, attention_mask)
            probabilities = torch.sigmoid(head(pooled.float()))
            for index, probability in zip(indices, probabilities.tolist(), strict=True):
                scores[index] = float(probability)
    return scores


@dataclass(frozen=True)
class ClassifierMetadata:
    """What the trainer recorded next to the weights."""

    threshold: float
    max_tokens: int
    dev_macro_f1: float
    normalization: str = BASIC


class OffensiveClassifier:
    """Probability that a chat message is offensive (OLID's OFF: insults, profanity, threats).

    Deterministic (eval mode, no sampling) and safe to call from several threads: inference only
    reads the weights. It never changes torch's global thread settings.
    """

    def __init__(
        self,
        encoder: MiniLMEncoder,
        head: BinaryHead,
        tokenizer: EncoderTokenizer,
        metadata: ClassifierMetadata,
        bfloat16_batches: bool = False,
    ) -> None:
        self._encoder = encoder.eval()
        self._head = head.eval()
        self._tokenizer = tokenizer
        self.metadata = metadata
        # Bulk moderation (`socialbot moderate` on stdin) turns this on; the bot's one-reply checks stay fp32.
        self.bfloat16_batches = bfloat16_batches

    @property
    def threshold(self) -> float:
        """Decision threshold chosen on the trainer's dev split (maximises macro-F1 there)."""
        return self.metadata.threshold

    @classmethod
    def load(cls, weights_dir: Path | None = None) -> OffensiveClassifier:
        """Load the bundled encoder and the fine-tuned layers + head from ``weights_dir``."""
        encoder, head, raw_metadata = read_finetuned_weights(
            weights_dir or default_weights_dir(), LAYERS_FILE, METADATA_FILE, "scripts/train_moderation.py"
        )
        metadata = ClassifierMetadata(
            threshold=float(raw_metadata["threshold"]),
            max_tokens=int(raw_metadata["max_tokens"]),
            dev_macro_f1=float(raw_metadata.get("dev_macro_f1", float("nan"))),
            normalization=str(raw_metadata.get("normalization", BASIC)),
        )
        try:
            tokenizer = EncoderTokenizer(max_tokens=metadata.max_tokens, normalization=metadata.normalization)
        except UnknownNormalizationError as error:
            raise ClassifierLoadError(f"{METADATA_FILE}: {error}") from error
        return cls(encoder, head, tokenizer, metadata)

    def score(self, text: str) -> float:
        """Probability (0..1) that ``text`` is offensive."""
        return self.score_batch([text])[0]

    def score_batch(self, texts: Sequence[str]) -> list[float]:
        """Probabilities for several texts (batched by similar length; output keeps input order)."""
        if not texts:
            return []
        return score_with_head(self._encoder, self._head, self._tokenizer, texts, self.bfloat16_batches)


class HFSequenceClassifier:
    """A user-supplied Hugging Face sequence-classification model, scored like the built-in one.

    ``offensive_label`` is either the label name in the model config (``id2label``) or its index.
    The score is the softmax probability of that label (sigmoid for single-logit models).
    """

    def __init__(self, model_name_or_path: str, offensive_label: str | int, max_tokens: int = 128) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = Path(model_name_or_path)
        local_only = path.is_dir() or path.is_absolute() or model_name_or_path.startswith(".")
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(model_name_or_path, local_files_only=local_only)
            self._model = AutoModelForSequenceClassification.from_pretrained(
                model_name_or_path, local_files_only=local_only
            ).eval()
        except (OSError, ValueError) as error:
            raise ClassifierLoadError(f"cannot load classifier {model_name_or_path!r}: {error}") from error
        self._max_tokens = max_tokens
        self.label_index = self._resolve_label(offensive_label)

    def _resolve_label(self, offensive_label: str | int) -> int:
        num_labels = int(self._model.config.num_labels)
        if isinstance(offensive_label, int):
            index = offensive_label
        else:
            by_name = {str(name).lower(): int(i) for i, name in self._model.config.id2label.items()}
            if offensive_label.lower() not in by_name:
                raise ClassifierLoadError(f"label {offensive_label!r} not in the model's labels {sorted(by_name)}")
            index = by_name[offensive_label.lower()]
        if not 0 <= index < max(num_labels, 1):
            raise ClassifierLoadError(f"label index {index} out of range for {num_labels} labels")
        return index

    def score(self, text: str) -> float:
        """Probability (0..1) of the offensive label for ``text``."""
        return self.score_batch([text])[0]

    def score_batch(self, texts: Sequence[str]) -> list[float]:
        """Probabilities of the offensive label for several texts, in input order."""
        scores: list[float] = []
        with torch.inference_mode():
            for start in range(0, len(texts), _BATCH_SIZE):
                batch = self._tokenizer(
                    list(texts[start : start + _BATCH_SIZE]),
                    truncation=True,
                    max_length=self._max_tokens,
                    padding=True,
                    return_tensors="pt",
                )
                logits = self._model(**batch).logits
                if logits.shape[-1] == 1:
                    probabilities = torch.sigmoid(logits[:, 0])
                else:
                    probabilities = logits.softmax(-1)[:, self.label_index]
                scores.extend(float(p) for p in probabilities.tolist())
        return scores
