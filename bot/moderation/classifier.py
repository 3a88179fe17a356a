"""Offensive-language classifiers for incoming messages.

:class:`OffensiveClassifier` is the shipped model: the bundled all-MiniLM-L6-v2 encoder whose top
transformer layers were fine-tuned on OLID (``scripts/train_moderation.py``), plus a linear head.
Only the fine-tuned layers and the head ship (``weights/``); the embeddings and any frozen lower
layers come from the bundled encoder. The metadata names the text normalisation the model was
trained with, and inference applies the same one. Inference runs in numpy (:mod:`bot.minilm_numpy`, no torch
import); the torch model of the same weights (:mod:`bot.minilm_torch`) is for the trainers and for bulk batches
on CPUs that multiply bfloat16 in hardware. When ``offensive_lexical.npz``/``.json`` lie beside the weights
(``scripts/train_offensive_blend.py`` writes them; shipped), the score blends the MiniLM's with a word + character
TF-IDF NB-LR's (:class:`LexicalBlend`: about 0.15 CPU-ms a text in batches, 0.5 for one message), and the threshold
is the blend's.
:class:`HFSequenceClassifier` wraps any user-supplied Hugging Face sequence classifier.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from safetensors.numpy import load_file

from bot.minilm_numpy import LinearHead, NumpyMiniLM, sigmoid
from bot.moderation.embeddings_features import EncoderTokenizer, shared_bundled_encoder
from bot.moderation.linear_text import LinearModelLoadError, LinearTextModel, load_linear_model
from bot.moderation.normalization import BASIC, UnknownNormalizationError

if TYPE_CHECKING:
    from bot.minilm_torch import BinaryHead as BinaryHead
    from bot.minilm_torch import MiniLMEncoder
    from bot.minilm_torch import finetuned_state as finetuned_state

LAYERS_FILE = "offensive_minilm_layers.safetensors"
METADATA_FILE = "offensive_classifier.json"
LEXICAL_WEIGHTS_FILE = "offensive_lexical.npz"
LEXICAL_METADATA_FILE = "offensive_lexical.json"
HEAD_PREFIX = "head."
_BATCH_SIZE = 64
# Batches at least this big run in bfloat16 where the CPU multiplies it in hardware (AMX): on OLID's dev split
# that doubled texts per CPU-second (81 -> 160) for dev macro-F1 0.7915 -> 0.7903; a single message stays fp32
# (autocast costs it more than it saves: 15.5 -> 23.6 CPU-ms). Dynamic int8 lost 0.014-0.015 dev macro-F1.
# numpy has no bfloat16, so those batches run on the torch model of the same weights (torch imported then only).
BFLOAT16_MIN_BATCH = 16
_TORCH_NAMES = frozenset({"BinaryHead", "finetuned_state"})


def __getattr__(name: str) -> object:
    """The torch head and the trainer's save format, imported (with torch) only when a training script asks."""
    if name in _TORCH_NAMES:
        from bot import minilm_torch

        return getattr(minilm_torch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ClassifierLoadError(RuntimeError):
    """Raised when classifier weights are missing or do not match the expected model."""


def default_weights_dir() -> Path:
    """Directory of the weights shipped with the package."""
    return Path(__file__).resolve().parent / "weights"


def _bundled_encoder() -> NumpyMiniLM:
    """The bundled encoder, loaded once per process; fine-tuned classifiers share its frozen parts."""
    return shared_bundled_encoder()


def bundled_encoder() -> NumpyMiniLM:
    """The frozen bundled encoder shared by every classifier in the process (never fine-tuned in place)."""
    return _bundled_encoder()


def load_finetuned_minilm(layers_path: Path) -> tuple[NumpyMiniLM, LinearHead]:
    """The bundled encoder with the fine-tuned layers from ``layers_path`` and the trained head (for inference:
    the embeddings and untouched layers are shared with every other classifier loaded this way)."""
    try:
        state = load_file(str(layers_path))
    except (OSError, ValueError) as error:
        raise ClassifierLoadError(f"{layers_path}: cannot read the weights: {error}") from error
    base = _bundled_encoder()
    head_state = {k.removeprefix(HEAD_PREFIX): v for k, v in state.items() if k.startswith(HEAD_PREFIX)}
    try:
        encoder = base.with_layer_overrides({k: v for k, v in state.items() if not k.startswith(HEAD_PREFIX)})
        head = LinearHead.from_state(head_state, base.config.hidden_size)
    except (KeyError, ValueError) as error:
        raise ClassifierLoadError(f"{layers_path}: weights do not fit the model: {error}") from error
    return encoder, head


def read_finetuned_weights(
    weights_dir: Path, layers_file: str, metadata_file: str, train_script: str
) -> tuple[NumpyMiniLM, LinearHead, dict[str, Any]]:
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
    encoder: NumpyMiniLM,
    head: LinearHead,
    tokenizer: EncoderTokenizer,
    texts: Sequence[str],
    bfloat16_model: tuple[MiniLMEncoder, BinaryHead] | None = None,
) -> list[float]:
    """Sigmoid probabilities for ``texts``, batched by similar length, in input order.

    With ``bfloat16_model`` (the torch model of the same weights), batches of BFLOAT16_MIN_BATCH or more texts
    run on it under bfloat16 autocast; everything else runs in numpy (small batches on one BLAS thread).
    """
    order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
    scores = [0.0] * len(texts)
    for start in range(0, len(order), _BATCH_SIZE):
        indices = order[start : start + _BATCH_SIZE]
        batch = [texts[index] for index in indices]
        if bfloat16_model is not None and len(indices) >= BFLOAT16_MIN_BATCH:
            probabilities = _bfloat16_probabilities(bfloat16_model, tokenizer, batch)
        else:
            probabilities = sigmoid(head(encoder(*tokenizer.arrays(batch))))
        for index, probability in zip(indices, probabilities.tolist(), strict=True):
            scores[index] = float(probability)
    return scores


def _bfloat16_probabilities(
    model: tuple[MiniLMEncoder, BinaryHead], tokenizer: EncoderTokenizer, texts: Sequence[str]
) -> np.ndarray[Any, np.dtype[np.float32]]:
    import torch

    encoder, head = model
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        pooled = encoder(*tokenizer(texts))
    with torch.inference_mode():
        return torch.sigmoid(head(pooled.float())).numpy()


@dataclass(frozen=True)
class ClassifierMetadata:
    """What the trainer recorded next to the weights."""

    threshold: float
    max_tokens: int
    dev_macro_f1: float
    normalization: str = BASIC


@dataclass(frozen=True)
class CalibratedWeights:
    """A blend fitted as a logistic regression over the two models' log-odds (on the trainer's dev split): the
    blended probability is ``sigmoid(minilm * logit(p_minilm) + lexical * logit_lexical + intercept)``."""

    minilm: float
    lexical: float
    intercept: float


def log_odds(probabilities: Sequence[float]) -> np.ndarray:
    """``ln(p / (1 - p))`` with p clipped to [1e-6, 1 - 1e-6] (as the blend trainer computes it)."""
    clipped = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-6, 1.0 - 1e-6)
    values: np.ndarray = np.log(clipped / (1.0 - clipped))
    return values


@dataclass(frozen=True)
class LexicalBlend:
    """A TF-IDF model averaged into the MiniLM's probability: it reads the words and characters themselves
    (spellings, emoji, obscenities the WordPiece vocabulary splits), so the two err on different tweets.

    ``score = minilm_weight * p_minilm + (1 - minilm_weight) * p_lexical``, or, with ``calibrated`` weights, a
    weighted sum of the two log-odds; the weights and ``threshold`` were chosen together on the trainer's dev
    split (which neither model was fitted on).
    """

    model: LinearTextModel
    minilm_weight: float
    threshold: float
    calibrated: CalibratedWeights | None = None

    @classmethod
    def load(cls, weights_dir: Path) -> LexicalBlend | None:
        """The blend shipped in ``weights_dir``, or None when its files are absent (the MiniLM then scores alone)."""
        weights_path, metadata_path = weights_dir / LEXICAL_WEIGHTS_FILE, weights_dir / LEXICAL_METADATA_FILE
        if not weights_path.is_file() and not metadata_path.is_file():
            return None
        try:
            model, metadata = load_linear_model(weights_path, metadata_path, "scripts/train_offensive_blend.py")
            blend = metadata["blend"]
            weight, threshold = float(blend["minilm_weight"]), float(blend["threshold"])  # type: ignore[index]
            raw = blend.get("calibrated")  # type: ignore[attr-defined]
            calibrated = None if raw is None else CalibratedWeights(*(float(raw[key]) for key in _CALIBRATED_KEYS))
        except (LinearModelLoadError, KeyError, TypeError, ValueError) as error:
            raise ClassifierLoadError(f"{metadata_path}: not a usable lexical blend: {error}") from error
        if not 0.0 <= weight <= 1.0 or not 0.0 < threshold < 1.0:
            raise ClassifierLoadError(f"{metadata_path}: blend weight {weight} / threshold {threshold} out of range")
        if calibrated is not None and not all(np.isfinite(value) for value in vars(calibrated).values()):
            raise ClassifierLoadError(f"{metadata_path}: calibrated blend weights must be finite numbers")
        return cls(model, weight, threshold, calibrated)

    def combine(self, minilm: Sequence[float], texts: Sequence[str]) -> list[float]:
        """The blended probabilities of ``texts`` given the MiniLM's."""
        lexical = self.model.score_batch(texts)
        if self.calibrated is not None:
            weights = self.calibrated
            logits = weights.minilm * log_odds(minilm) + weights.lexical * log_odds(lexical) + weights.intercept
            return [float(value) for value in 1.0 / (1.0 + np.exp(-logits))]
        weight = self.minilm_weight
        return [weight * m + (1.0 - weight) * x for m, x in zip(minilm, lexical, strict=True)]


_CALIBRATED_KEYS = ("minilm", "lexical", "intercept")


class OffensiveClassifier:
    """Probability that a chat message is offensive (OLID's OFF: insults, profanity, threats).

    Deterministic and safe to call from several threads: inference only reads the weights. It never changes
    torch's global thread settings (and imports torch only for bulk bfloat16 batches).
    """

    def __init__(
        self,
        encoder: NumpyMiniLM,
        head: LinearHead,
        tokenizer: EncoderTokenizer,
        metadata: ClassifierMetadata,
        bfloat16_batches: bool = False,
        layers_path: Path | None = None,
        lexical: LexicalBlend | None = None,
    ) -> None:
        self._encoder = encoder
        self._head = head
        self._tokenizer = tokenizer
        self.metadata = metadata
        # Bulk moderation (`socialbot moderate` on stdin) turns this on; the bot's one-reply checks stay fp32.
        self.bfloat16_batches = bfloat16_batches
        self._layers_path = layers_path
        self.lexical = lexical
        self._torch_lock = threading.Lock()
        self._torch_model: tuple[MiniLMEncoder, BinaryHead] | None = None

    def _bfloat16_model(self) -> tuple[MiniLMEncoder, BinaryHead] | None:
        """The torch model of these weights when bulk batches should run in bfloat16 (AMX), else None."""
        if not self.bfloat16_batches or self._layers_path is None or not hardware_bfloat16():
            return None
        with self._torch_lock:
            if self._torch_model is None:
                from bot.minilm_torch import load_finetuned_torch

                self._torch_model = load_finetuned_torch(self._layers_path)
            return self._torch_model

    @property
    def threshold(self) -> float:
        """Decision threshold chosen on the trainer's dev split (maximises macro-F1 there): the blend's if any."""
        return self.lexical.threshold if self.lexical is not None else self.metadata.threshold

    @classmethod
    def load(cls, weights_dir: Path | None = None, blend: bool = True) -> OffensiveClassifier:
        """Load the bundled encoder and the fine-tuned layers + head from ``weights_dir``, and the lexical blend
        when it ships there (``blend=False``: the MiniLM alone, as its trainers score it)."""
        weights_dir = weights_dir or default_weights_dir()
        encoder, head, raw_metadata = read_finetuned_weights(
            weights_dir, LAYERS_FILE, METADATA_FILE, "scripts/train_moderation.py"
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
        lexical = LexicalBlend.load(weights_dir) if blend else None
        return cls(encoder, head, tokenizer, metadata, layers_path=weights_dir / LAYERS_FILE, lexical=lexical)

    def score(self, text: str) -> float:
        """Probability (0..1) that ``text`` is offensive."""
        return self.score_batch([text])[0]

    def score_batch(self, texts: Sequence[str]) -> list[float]:
        """Probabilities for several texts (batched by similar length; output keeps input order)."""
        if not texts:
            return []
        bfloat16_model = self._bfloat16_model() if len(texts) >= BFLOAT16_MIN_BATCH else None
        minilm = score_with_head(self._encoder, self._head, self._tokenizer, texts, bfloat16_model)
        return minilm if self.lexical is None else self.lexical.combine(minilm, texts)


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
        import torch

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
