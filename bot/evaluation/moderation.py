"""Measure the moderation classifiers: held-out OLID quality and latency, and the harm check.

The held-out OLID split is re-created here from a seed by :func:`split_heldout`, the same function
``scripts/train_moderation.py`` uses, so the trainer never sees the texts this module scores.
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA_ENV = "SOCIALBOT_SHARED_DATA"


def shared_data_dir() -> Path:
    """The third-party data folder: ``$SOCIALBOT_SHARED_DATA``, else ``../shared/data`` beside the repository."""
    override = os.environ.get(SHARED_DATA_ENV)
    return Path(override) if override else REPO_ROOT.parent / "shared" / "data"


DEFAULT_OLID_PATH = Path("../shared/data/olid/olid-training-v1.0.tsv")
DEFAULT_HARM_EVAL_PATH = Path(__file__).resolve().parents[1] / "moderation" / "data" / "harm_eval.jsonl"
HELDOUT_SEED = 13
HELDOUT_FRACTION = 0.2
MIN_LATENCY_SAMPLE = 300


class EvaluationDataError(ValueError):
    """Raised when an evaluation file is missing or has no usable rows."""


class TextScorer(Protocol):
    """Anything that turns a text into a probability of the positive class."""

    def score(self, text: str) -> float: ...

    def score_batch(self, texts: Sequence[str]) -> list[float]: ...


@dataclass(frozen=True)
class LabelledTexts:
    """Texts with binary labels (1 = offensive / harmful)."""

    texts: tuple[str, ...]
    labels: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int]) -> LabelledTexts:
        """The rows at ``indices``, in that order."""
        return LabelledTexts(tuple(self.texts[i] for i in indices), tuple(self.labels[i] for i in indices))


@dataclass(frozen=True)
class HeldoutSplit:
    """A stratified train / held-out partition of a labelled data set."""

    train: LabelledTexts
    heldout: LabelledTexts


def _unquote_tsv_field(field: str) -> str:
    """OLID quotes some tweets CSV-style ("..."" ...") inside an otherwise unquoted TSV."""
    if len(field) >= 2 and field.startswith('"') and field.endswith('"'):
        return field[1:-1].replace('""', '"')
    return field


def load_olid_tsv(path: Path, text_column: str = "tweet", label_column: str = "subtask_a") -> LabelledTexts:
    """Load an OLID-style TSV (``id``, ``tweet``, ``subtask_a`` NOT/OFF, ...); OFF becomes 1."""
    if not path.is_file():
        raise EvaluationDataError(f"{path}: no such file (pass the OLID TSV path explicitly)")
    texts: list[str] = []
    labels: list[int] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, [])
        try:
            text_index, label_index = header.index(text_column), header.index(label_column)
        except ValueError:
            raise EvaluationDataError(
                f"{path}: header must name {text_column!r} and {label_column!r}, got {header}"
            ) from None
        for line_number, row in enumerate(reader, start=2):
            if not row:
                continue
            label = row[label_index].strip().upper()
            if label not in ("OFF", "NOT"):
                raise EvaluationDataError(f"{path}:{line_number}: label {label!r} is not OFF/NOT")
            texts.append(_unquote_tsv_field(row[text_index]))
            labels.append(1 if label == "OFF" else 0)
    if not texts:
        raise EvaluationDataError(f"{path}: no rows")
    return LabelledTexts(tuple(texts), tuple(labels))


def load_labelled_jsonl(path: Path, label_field: str) -> LabelledTexts:
    """Load JSON lines with a ``text`` field and a boolean (or 0/1) ``label_field``."""
    if not path.is_file():
        raise EvaluationDataError(f"{path}: no such file")
    texts: list[str] = []
    labels: list[int] = []
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record = json.loads(line)
            if "text" not in record or label_field not in record:
                raise EvaluationDataError(f"{path}:{line_number}: needs 'text' and {label_field!r}")
            texts.append(str(record["text"]))
            labels.append(int(bool(record[label_field])))
    if not texts:
        raise EvaluationDataError(f"{path}: no rows")
    return LabelledTexts(tuple(texts), tuple(labels))


def load_offensive_file(path: Path) -> LabelledTexts:
    """Load an offensive-language file: OLID TSV, or JSONL with ``text`` and ``offensive``."""
    if path.suffix == ".jsonl":
        return load_labelled_jsonl(path, "offensive")
    return load_olid_tsv(path)


def split_heldout(data: LabelledTexts, fraction: float = HELDOUT_FRACTION, seed: int = HELDOUT_SEED) -> HeldoutSplit:
    """Stratified, seeded split; the same (data, fraction, seed) always gives the same partition."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(data.labels)
    heldout: list[int] = []
    for label in sorted(set(data.labels)):
        members = np.flatnonzero(labels == label)
        shuffled = rng.permutation(members)
        heldout.extend(int(i) for i in shuffled[: round(len(members) * fraction)])
    heldout_set = set(heldout)
    train = [i for i in range(len(data)) if i not in heldout_set]
    return HeldoutSplit(train=data.subset(train), heldout=data.subset(sorted(heldout)))


@dataclass(frozen=True)
class ClassMetrics:
    """Precision, recall and F1 of one class."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class OffensiveEvaluation:
    """Quality and batch-1 latency of the offensive-language classifier on one labelled set."""

    offensive: ClassMetrics
    not_offensive: ClassMetrics
    macro_f1: float
    threshold: float
    latency_ms_p50: float
    latency_ms_p95: float
    n: int
    latency_n: int


@dataclass(frozen=True)
class HarmEvaluation:
    """How the harm check does on labelled bot replies."""

    recall: float
    false_block_rate: float
    n_harmful: int
    n_harmless: int


def class_metrics(labels: Sequence[int], predictions: Sequence[int], positive: int) -> ClassMetrics:
    """Precision, recall and F1 treating ``positive`` as the class of interest (0 when undefined)."""
    pairs = list(zip(labels, predictions, strict=True))
    true_pos = sum(1 for label, pred in pairs if label == positive and pred == positive)
    predicted = sum(1 for _, pred in pairs if pred == positive)
    actual = sum(1 for label, _ in pairs if label == positive)
    precision = true_pos / predicted if predicted else 0.0
    recall = true_pos / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return ClassMetrics(precision, recall, f1, actual)


def measure_latency_ms(scorer: TextScorer, texts: Sequence[str], warmup: int = 10) -> list[float]:
    """Per-message latency of ``scorer.score`` at batch size 1, in milliseconds."""
    for text in texts[:warmup]:
        scorer.score(text)
    timings: list[float] = []
    for text in texts:
        start = time.perf_counter()
        scorer.score(text)
        timings.append((time.perf_counter() - start) * 1000.0)
    return timings


def _percentile(values: Sequence[float], fraction: float) -> float:
    return float(np.percentile(np.asarray(values), fraction * 100.0))


def evaluate_offensive(
    scorer: TextScorer,
    data: LabelledTexts,
    threshold: float = 0.5,
    latency_sample: int = MIN_LATENCY_SAMPLE,
) -> OffensiveEvaluation:
    """Score ``data`` in batches for quality, and time the first ``latency_sample`` texts at batch 1."""
    scores = scorer.score_batch(data.texts)
    predictions = [int(score >= threshold) for score in scores]
    offensive = class_metrics(data.labels, predictions, positive=1)
    not_offensive = class_metrics(data.labels, predictions, positive=0)
    timings = measure_latency_ms(scorer, data.texts[:latency_sample])
    return OffensiveEvaluation(
        offensive=offensive,
        not_offensive=not_offensive,
        macro_f1=(offensive.f1 + not_offensive.f1) / 2,
        threshold=threshold,
        latency_ms_p50=statistics.median(timings),
        latency_ms_p95=_percentile(timings, 0.95),
        n=len(data),
        latency_n=len(timings),
    )


def evaluate_harm(scorer: TextScorer, data: LabelledTexts, threshold: float = 0.5) -> HarmEvaluation:
    """Recall on harmful replies and the share of harmless replies that would be blocked."""
    scores = scorer.score_batch(data.texts)
    harmful = [score >= threshold for score, label in zip(scores, data.labels, strict=True) if label]
    harmless = [score >= threshold for score, label in zip(scores, data.labels, strict=True) if not label]
    return HarmEvaluation(
        recall=sum(harmful) / len(harmful) if harmful else 0.0,
        false_block_rate=sum(harmless) / len(harmless) if harmless else 0.0,
        n_harmful=len(harmful),
        n_harmless=len(harmless),
    )


def heldout_olid(path: Path = DEFAULT_OLID_PATH, seed: int = HELDOUT_SEED) -> LabelledTexts:
    """The held-out part of the OLID training file, exactly as the trainer left it out."""
    return split_heldout(load_olid_tsv(path), seed=seed).heldout


def evaluate_moderation(
    olid_path: Path = DEFAULT_OLID_PATH,
    harm_eval_path: Path | None = DEFAULT_HARM_EVAL_PATH,
    latency_sample: int = MIN_LATENCY_SAMPLE,
) -> tuple[OffensiveEvaluation, HarmEvaluation | None]:
    """Evaluate the shipped classifiers: OLID held-out split (or any labelled file) and harm eval set.

    An OLID training TSV is reduced to its held-out split; any other TSV/JSONL file is used whole.
    """
    from bot.moderation.classifier import OffensiveClassifier
    from bot.moderation.harm import HarmClassifier

    classifier = OffensiveClassifier.load()
    is_olid_training_file = olid_path.name == DEFAULT_OLID_PATH.name
    data = heldout_olid(olid_path) if is_olid_training_file else load_offensive_file(olid_path)
    offensive = evaluate_offensive(classifier, data, classifier.threshold, latency_sample)
    harm = None
    if harm_eval_path is not None:
        harm_classifier = HarmClassifier.load()
        harm = evaluate_harm(harm_classifier, load_labelled_jsonl(harm_eval_path, "harmful"), harm_classifier.threshold)
    return offensive, harm


def evaluation_report_dict(offensive: OffensiveEvaluation, harm: HarmEvaluation | None = None) -> dict[str, Any]:
    """Flat JSON-ready report (``socialbot eval moderation --json``)."""
    report: dict[str, Any] = {
        "macro_f1": offensive.macro_f1,
        "f1_offensive": offensive.offensive.f1,
        "precision_offensive": offensive.offensive.precision,
        "recall_offensive": offensive.offensive.recall,
        "f1_not_offensive": offensive.not_offensive.f1,
        "precision_not_offensive": offensive.not_offensive.precision,
        "recall_not_offensive": offensive.not_offensive.recall,
        "latency_ms_p50": offensive.latency_ms_p50,
        "latency_ms_p95": offensive.latency_ms_p95,
        "threshold": offensive.threshold,
        "n": offensive.n,
        "latency_n": offensive.latency_n,
    }
    if harm is not None:
        report["harm_recall"] = harm.recall
        report["harm_false_block_rate"] = harm.false_block_rate
        report["harm_n_harmful"] = harm.n_harmful
        report["harm_n_harmless"] = harm.n_harmless
    return report


def format_report_table(report: dict[str, Any]) -> str:
    """Human-readable table of :func:`evaluation_report_dict` output."""
    lines = [
        f"Offensive-language classifier (n={report['n']}, threshold={report['threshold']:.3f})",
        f"{'class':<16}{'precision':>10}{'recall':>10}{'f1':>10}",
    ]
    for label, key in (("OFF", "offensive"), ("NOT", "not_offensive")):
        lines.append(
            f"{label:<16}{report[f'precision_{key}']:>10.3f}"
            f"{report[f'recall_{key}']:>10.3f}{report[f'f1_{key}']:>10.3f}"
        )
    lines.append(f"{'macro-F1':<16}{'':>20}{report['macro_f1']:>10.3f}")
    lines.append(
        f"latency per message (batch 1, n={report['latency_n']}): "
        f"p50 {report['latency_ms_p50']:.2f} ms, p95 {report['latency_ms_p95']:.2f} ms"
    )
    if "harm_recall" in report:
        lines.append(
            f"Harm check: recall {report['harm_recall']:.3f} on {report['harm_n_harmful']} harmful, "
            f"false-block rate {report['harm_false_block_rate']:.3f} on {report['harm_n_harmless']} harmless"
        )
    return "\n".join(lines)
