"""Does this passage answer this question? A cross-encoder reads both together and says how likely.

Retrieval scores and word overlap measure how close a passage is to a question, not whether it settles it:
"Do you sell mobile phones?" lands on the FAQ "Do you have a mobile app? Not yet." with most of its words
found. Reading the pair through the bundled MiniLM encoder at once (``[CLS] question [SEP] passage [SEP]``)
lets attention compare them word by word. Its top layers and a linear head were fine-tuned on question/passage
pairs written for other, made-up businesses (``bot/kb/data/answerability_train.jsonl``, by
``scripts/train_answerability.py``); the shop of ``eval/kb`` was never part of it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from tokenizers import Tokenizer

if TYPE_CHECKING:
    from bot.minilm_numpy import LinearHead, NumpyMiniLM

log = logging.getLogger(__name__)

LAYERS_FILE = "answerability_minilm_layers.safetensors"
METADATA_FILE = "answerability.json"
DEFAULT_MAX_TOKENS = 192


def default_weights_dir() -> Path:
    """Directory of the weights shipped with the package."""
    return Path(__file__).resolve().parent / "weights"


def passage_text(heading: str, text: str) -> str:
    """How a passage is shown to the judge, in training and at answer time alike: its section, then its text."""
    section = heading.rsplit(">", 1)[-1].strip()
    body = " ".join(text.split())
    return f"{section}: {body}" if section and not body.startswith(section) else body


@dataclass(frozen=True)
class PairBatch:
    """Token ids of question/passage pairs, padded to the longest pair."""

    input_ids: NDArray[np.int64]
    attention_mask: NDArray[np.int64]
    token_type_ids: NDArray[np.int64]


class PairTokenizer:
    """WordPiece tokenizer of the bundled encoder for (question, passage) pairs, truncating the longer side."""

    def __init__(self, model_dir: Path | None = None, max_tokens: int = DEFAULT_MAX_TOKENS) -> None:
        from bot.moderation.embeddings_features import bundled_encoder_dir

        model_dir = model_dir or bundled_encoder_dir()
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.no_padding()
        self.max_tokens = max_tokens

    def __call__(self, pairs: Sequence[tuple[str, str]]) -> PairBatch:
        encodings = self._tokenizer.encode_batch([(question, passage) for question, passage in pairs])
        length = max(len(encoding.ids) for encoding in encodings)
        input_ids = np.zeros((len(pairs), length), dtype=np.int64)
        attention_mask = np.zeros((len(pairs), length), dtype=np.int64)
        token_type_ids = np.zeros((len(pairs), length), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            size = len(encoding.ids)
            input_ids[row, :size] = encoding.ids
            attention_mask[row, :size] = 1
            token_type_ids[row, :size] = encoding.type_ids
        return PairBatch(input_ids, attention_mask, token_type_ids)


class AnswerabilityJudge:
    """Scores (question, passage) pairs: the probability that the passage answers the question."""

    def __init__(
        self, encoder: NumpyMiniLM, head: LinearHead, tokenizer: PairTokenizer, metadata: dict[str, Any]
    ) -> None:
        self.encoder = encoder
        self.head = head
        self.tokenizer = tokenizer
        self.metadata = metadata
        self._lock = threading.Lock()

    @classmethod
    def load(cls, weights_dir: Path | None = None) -> AnswerabilityJudge:
        """The shipped judge (or one in ``weights_dir``); ClassifierLoadError names what is missing or wrong."""
        from bot.moderation.classifier import ClassifierLoadError, read_finetuned_weights

        weights_dir = weights_dir or default_weights_dir()
        encoder, head, metadata = read_finetuned_weights(
            weights_dir, LAYERS_FILE, METADATA_FILE, "scripts/train_answerability.py"
        )
        try:
            max_tokens = int(metadata["max_tokens"])
        except (KeyError, TypeError, ValueError) as error:
            raise ClassifierLoadError(f"{weights_dir / METADATA_FILE}: not valid judge metadata: {error}") from error
        return cls(encoder, head, PairTokenizer(max_tokens=max_tokens), metadata)

    def logits(self, question: str, passages: Sequence[str]) -> list[float]:
        """One logit per passage (positive: it answers the question). Thread-safe."""
        if not passages:
            return []
        batch = self.tokenizer([(question, passage) for passage in passages])
        with self._lock:
            pooled = self.encoder(batch.input_ids, batch.attention_mask, batch.token_type_ids)
            return [float(value) for value in self.head(pooled)]


def load_judge(enabled: bool = True, weights_dir: Path | None = None) -> AnswerabilityJudge | None:
    """The judge when ``enabled`` and loadable; None otherwise, and the answerer then falls back to retrieval
    signals alone (a warning says why, since declines get less precise without it)."""
    from bot.moderation.classifier import ClassifierLoadError

    if not enabled:
        return None
    try:
        return AnswerabilityJudge.load(weights_dir)
    except (ClassifierLoadError, OSError) as error:
        log.warning("answerability judge not loaded, confidence from retrieval alone: %s", error)
        return None
