"""UMSAB data for training and measuring the sentiment model, with a fixed held-out slice per language.

Split (seeded, stratified per language and label), decided before any model of this recipe was scored on it:
- the *old* held-out: `HELDOUT_PER_LANGUAGE` tweets per language of the `train` file (seed `HELDOUT_SEED`). It
  was looked at four times by earlier models and steered their choices, so it no longer counts as held-out:
  it joins `fit` now (`old_heldout` keeps its rows for reference).
- the *fresh* held-out (`heldout`): `FRESH_HELDOUT_PER_LANGUAGE` more tweets per language, drawn with
  `FRESH_HELDOUT_SEED` from the train rows outside the old slice; never trained, tuned or thresholded on.
- `fit` = the rest of `train`; `tune` = the `val` file. Choices are made on `tune` and by cross-validation
  over `fit` + `tune` (scripts/train_sentiment.py); only its `--heldout` reads the fresh slice.
Nothing in production imports the data.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.insight.sentiment import LABELS

_REPO_ROOT = Path(__file__).resolve().parents[2]


def default_umsab_dir() -> Path:
    """`../shared/data/umsab` beside the checkout (a worktree one level deeper finds it one level up)."""
    for parent in (_REPO_ROOT.parent, _REPO_ROOT.parent.parent):
        candidate = parent / "shared" / "data" / "umsab"
        if candidate.is_dir():
            return candidate
    return _REPO_ROOT.parent / "shared" / "data" / "umsab"


LANGUAGES: dict[str, str] = {
    "arabic": "ar",
    "english": "en",
    "french": "fr",
    "german": "de",
    "hindi": "hi",
    "italian": "it",
    "portuguese": "pt",
    "spanish": "es",
}
HELDOUT_SEED = 18
HELDOUT_PER_LANGUAGE = 300
FRESH_HELDOUT_SEED = 1805
FRESH_HELDOUT_PER_LANGUAGE = 300


class SentimentDataError(ValueError):
    """A UMSAB file is missing or its text and label files disagree."""


@dataclass(frozen=True)
class LabelledTweets:
    """Texts with their class index (0 negative, 1 neutral, 2 positive) and ISO language code."""

    texts: tuple[str, ...]
    labels: tuple[int, ...]
    languages: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int]) -> LabelledTweets:
        return LabelledTweets(
            tuple(self.texts[i] for i in indices),
            tuple(self.labels[i] for i in indices),
            tuple(self.languages[i] for i in indices),
        )

    def __add__(self, other: LabelledTweets) -> LabelledTweets:
        return LabelledTweets(self.texts + other.texts, self.labels + other.labels, self.languages + other.languages)


@dataclass(frozen=True)
class SentimentSplits:
    """`fit` (train minus the fresh held-out), `tune` (val), `heldout` (fresh, never tuned on), `old_heldout`.

    `old_heldout` is the slice earlier models were measured on; its rows are part of `fit` now.
    """

    fit: LabelledTweets
    tune: LabelledTweets
    heldout: LabelledTweets
    old_heldout: LabelledTweets


def read_split(directory: Path, split: str) -> LabelledTweets:
    """All languages' `<split>_text.txt` / `<split>_labels.txt` under `directory`."""
    texts: list[str] = []
    labels: list[int] = []
    languages: list[str] = []
    for folder, code in LANGUAGES.items():
        text_path = directory / folder / f"{split}_text.txt"
        label_path = directory / folder / f"{split}_labels.txt"
        try:
            lines = text_path.read_text(encoding="utf-8").splitlines()
            classes = [int(value) for value in label_path.read_text(encoding="utf-8").split()]
        except (OSError, ValueError) as exc:
            raise SentimentDataError(f"{text_path.parent}: cannot read UMSAB {split} split: {exc}") from exc
        if len(lines) != len(classes):
            raise SentimentDataError(f"{text_path}: {len(lines)} texts but {len(classes)} labels in {label_path}")
        texts.extend(lines)
        labels.extend(classes)
        languages.extend([code] * len(lines))
    return LabelledTweets(tuple(texts), tuple(labels), tuple(languages))


def stratified_slice(data: LabelledTweets, candidates: Sequence[int], per_language: int, seed: int) -> list[int]:
    """`per_language` rows of each language among `candidates`, each label in its share there (seeded)."""
    rng = np.random.default_rng(seed)
    pool = np.asarray(sorted(candidates), dtype=np.int64)
    languages = np.asarray(data.languages)[pool]
    labels = np.asarray(data.labels)[pool]
    chosen: list[int] = []
    for code in LANGUAGES.values():
        language_rows = int((languages == code).sum())
        for label in range(len(LABELS)):
            members = pool[(languages == code) & (labels == label)]
            share = round(per_language * len(members) / max(1, language_rows))
            chosen.extend(int(i) for i in rng.permutation(members)[:share])
    return sorted(chosen)


def load_splits(directory: Path | None = None) -> SentimentSplits:
    directory = directory or default_umsab_dir()
    train = read_split(directory, "train")
    old = stratified_slice(train, range(len(train)), HELDOUT_PER_LANGUAGE, HELDOUT_SEED)
    old_rows = set(old)
    fresh = stratified_slice(
        train, [i for i in range(len(train)) if i not in old_rows], FRESH_HELDOUT_PER_LANGUAGE, FRESH_HELDOUT_SEED
    )
    fresh_rows = set(fresh)
    fit = [i for i in range(len(train)) if i not in fresh_rows]
    return SentimentSplits(train.subset(fit), read_split(directory, "val"), train.subset(fresh), train.subset(old))


def macro_f1(gold: Sequence[int], predicted: Sequence[int], classes: int = len(LABELS)) -> float:
    """Mean over classes of F1 (a class absent from both gold and predictions counts as 0)."""
    scores = []
    for label in range(classes):
        true_positive = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p == label)
        predicted_count = sum(1 for p in predicted if p == label)
        gold_count = sum(1 for g in gold if g == label)
        denominator = predicted_count + gold_count
        scores.append(2 * true_positive / denominator if denominator else 0.0)
    return sum(scores) / classes


@dataclass(frozen=True)
class SentimentReport:
    """Macro-F1 per language and averaged, plus the mean scoring time per message."""

    per_language: dict[str, float]
    average: float
    ms_per_message: float
    rows: int


def evaluate(predict: Callable[[Sequence[str]], list[int]], data: LabelledTweets) -> SentimentReport:
    """Score `data` with `predict` (one text at a time, as in production) and report macro-F1."""
    started = time.perf_counter()
    predicted = [predict([text])[0] for text in data.texts]
    elapsed = time.perf_counter() - started
    per_language = {}
    for code in LANGUAGES.values():
        rows = [i for i, language in enumerate(data.languages) if language == code]
        if rows:
            per_language[code] = macro_f1([data.labels[i] for i in rows], [predicted[i] for i in rows])
    average = float(np.mean(list(per_language.values()))) if per_language else 0.0
    return SentimentReport(per_language, average, 1000 * elapsed / max(1, len(data)), len(data))
