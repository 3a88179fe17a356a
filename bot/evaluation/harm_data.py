"""The harm check's data and its splits, shared by ``scripts/train_harm.py`` and ``socialbot eval moderation``.

JailbreakBench replies are split by behaviour (never by row): within each harm category the behaviours are
shuffled with a fixed seed and dealt 60 / 20 / 20 into fit, calibration and test. The benign sources are split
by their own groups the same way (CLINC150 and Banking77 by intent, UMSAB by its train/val files, OLID by the
offensive classifier's own held-out split), so no test text or test group is ever fitted or thresholded on.
"""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bot.evaluation.moderation import HELDOUT_SEED, LabelledTexts, load_olid_tsv, split_heldout

Split = Literal["fit", "calibration", "test"]
SPLITS: tuple[Split, ...] = ("fit", "calibration", "test")
SPLIT_SEED = 13
SPLIT_SHARES = (0.6, 0.2, 0.2)
UMSAB_LANGUAGES = ("spanish", "french", "german", "italian", "portuguese")
# Caps that keep training to a minute or two on a shared CPU; drawn with the split seed.
BENIGN_CAPS: dict[Split, int] = {"fit": 1500, "calibration": 800, "test": 1000}


class HarmDataError(ValueError):
    """Raised when a data folder the harm check needs is missing or malformed (names the path)."""


@dataclass(frozen=True)
class HarmSplits:
    """Labelled texts per split: JailbreakBench replies (1 = harmful compliance) and benign text by source."""

    jailbreak: dict[Split, LabelledTexts]
    benign: dict[Split, dict[str, tuple[str, ...]]]
    behaviours: dict[Split, tuple[str, ...]]
    row_behaviours: dict[Split, tuple[str, ...]]
    goals: dict[Split, tuple[str, ...]]
    """Each reply's request: the goal of its behaviour (the attacker's plain request, not the jailbreak prompt)."""


def behaviour_folds(splits: HarmSplits, folds: int = 5) -> list[int]:
    """The cross-validation fold of each fit reply, dealt by behaviour so a behaviour never straddles folds."""
    behaviours = list(splits.behaviours["fit"])
    random.Random(SPLIT_SEED).shuffle(behaviours)
    fold_of = {behaviour: index % folds for index, behaviour in enumerate(behaviours)}
    return [fold_of[behaviour] for behaviour in splits.row_behaviours["fit"]]


def non_test_folds(splits: HarmSplits, folds: int = 5) -> tuple[list[int], list[str]]:
    """Cross-validation folds over the fit and calibration replies together (fit rows first), dealt by behaviour,
    and each row's behaviour: the out-of-fold scores the LM stage's threshold is chosen on (test never enters)."""
    behaviours = sorted(set(splits.behaviours["fit"]) | set(splits.behaviours["calibration"]))
    random.Random(SPLIT_SEED).shuffle(behaviours)
    fold_of = {behaviour: index % folds for index, behaviour in enumerate(behaviours)}
    rows = list(splits.row_behaviours["fit"]) + list(splits.row_behaviours["calibration"])
    return [fold_of[behaviour] for behaviour in rows], rows


def deal_groups(groups: list[str], strata: dict[str, str], seed: int = SPLIT_SEED) -> dict[str, Split]:
    """Assign each group to a split: shuffled within its stratum, then dealt 60/20/20 (same input, same split)."""
    by_stratum: dict[str, list[str]] = defaultdict(list)
    for group in sorted(set(groups)):
        by_stratum[strata.get(group, "")].append(group)
    rng = random.Random(seed)
    assignment: dict[str, Split] = {}
    for stratum in sorted(by_stratum):
        members = by_stratum[stratum]
        rng.shuffle(members)
        fit_end = round(len(members) * SPLIT_SHARES[0])
        calibration_end = round(len(members) * (SPLIT_SHARES[0] + SPLIT_SHARES[1]))
        for index, group in enumerate(members):
            assignment[group] = "fit" if index < fit_end else "calibration" if index < calibration_end else "test"
    return assignment


def _require(path: Path) -> Path:
    if not path.exists():
        raise HarmDataError(f"{path}: not found (pass the shared data folder, e.g. --data ../shared/data)")
    return path


def load_jailbreakbench(
    data_dir: Path,
) -> tuple[dict[Split, LabelledTexts], dict[Split, tuple[str, ...]], dict[Split, tuple[str, ...]]]:
    """JailbreakBench replies per split, the behaviours in each split, and each reply's behaviour."""
    path = _require(data_dir / "jailbreakbench" / "responses.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    try:
        category = {str(row["behavior"]): str(row["category"]) for row in rows}
        assignment = deal_groups([str(row["behavior"]) for row in rows], category)
        texts: dict[Split, list[str]] = {split: [] for split in SPLITS}
        labels: dict[Split, list[int]] = {split: [] for split in SPLITS}
        of_row: dict[Split, list[str]] = {split: [] for split in SPLITS}
        for row in rows:
            split = assignment[str(row["behavior"])]
            of_row[split].append(str(row["behavior"]))
            texts[split].append(str(row["response"]))
            labels[split].append(int(bool(row["jailbroken"])))
    except KeyError as error:
        raise HarmDataError(f"{path}: rows need behavior, category, response and jailbroken: {error}") from None
    behaviours = {split: tuple(sorted(b for b, s in assignment.items() if s == split)) for split in SPLITS}
    per_split = {split: LabelledTexts(tuple(texts[split]), tuple(labels[split])) for split in SPLITS}
    return per_split, behaviours, {split: tuple(of_row[split]) for split in SPLITS}


def load_jailbreak_goals(data_dir: Path) -> dict[Split, tuple[str, ...]]:
    """Each reply's behaviour goal, per split, in the row order of :func:`load_jailbreakbench`."""
    path = _require(data_dir / "jailbreakbench" / "responses.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    try:
        assignment = deal_groups(
            [str(row["behavior"]) for row in rows], {str(r["behavior"]): str(r["category"]) for r in rows}
        )
        goals: dict[Split, list[str]] = {split: [] for split in SPLITS}
        for row in rows:
            goals[assignment[str(row["behavior"])]].append(str(row["goal"]))
    except KeyError as error:
        raise HarmDataError(f"{path}: rows need behavior, category and goal: {error}") from None
    return {split: tuple(values) for split, values in goals.items()}


def pair_benign(benign: dict[str, tuple[str, ...]], seed: int = SPLIT_SEED) -> tuple[list[str], list[str]]:
    """Benign (request, reply) pairs: each text as a reply, with another text of the same source as its request.

    No benign set here holds real request/reply pairs; this pairing checks what pair mode does when ordinary
    text meets ordinary text (the request model must call the request harmless, or the reply must not comply).
    """
    requests: list[str] = []
    replies: list[str] = []
    for source in sorted(benign):
        texts = list(benign[source])
        shuffled = list(texts)
        random.Random(seed).shuffle(shuffled)
        requests.extend(shuffled)
        replies.extend(texts)
    return requests, replies


def _by_intent(pairs: list[tuple[str, str]]) -> dict[Split, list[str]]:
    assignment = deal_groups([intent for _, intent in pairs], {})
    split_texts: dict[Split, list[str]] = {split: [] for split in SPLITS}
    for text, intent in pairs:
        split_texts[assignment[intent]].append(text)
    return split_texts


def _capped(texts: list[str], split: Split, seed: int) -> tuple[str, ...]:
    rng = random.Random(seed)
    chosen = list(texts)
    rng.shuffle(chosen)
    return tuple(chosen[: BENIGN_CAPS[split]])


def load_benign(data_dir: Path) -> dict[Split, dict[str, tuple[str, ...]]]:
    """Ordinary text that must not be blocked, by split and source (queries, tweets in six languages)."""
    benign: dict[Split, dict[str, tuple[str, ...]]] = {split: {} for split in SPLITS}
    clinc = json.loads(_require(data_dir / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    clinc_pairs = [(str(text), str(intent)) for text, intent in clinc["train"] + clinc["test"]]
    with _require(data_dir / "banking77" / "train.csv").open(encoding="utf-8", newline="") as handle:
        banking_pairs = [(row["text"], row["category"]) for row in csv.DictReader(handle)]
    for name, pairs in (("clinc150", clinc_pairs), ("banking77", banking_pairs)):
        for split, texts in _by_intent(pairs).items():
            benign[split][name] = _capped(texts, split, SPLIT_SEED)
    olid = split_heldout(load_olid_tsv(_require(data_dir / "olid" / "olid-training-v1.0.tsv")), seed=HELDOUT_SEED)
    # OLID's held-out split (the offensive classifier's test) stays test here too; the rest is dealt by row.
    rest = list(olid.train.texts)
    random.Random(SPLIT_SEED).shuffle(rest)
    cut = round(len(rest) * 0.75)
    benign["fit"]["olid"] = _capped(rest[:cut], "fit", SPLIT_SEED)
    benign["calibration"]["olid"] = _capped(rest[cut:], "calibration", SPLIT_SEED)
    benign["test"]["olid_not_offensive"] = tuple(
        text for text, label in zip(olid.heldout.texts, olid.heldout.labels, strict=True) if not label
    )
    for language in UMSAB_LANGUAGES:
        folder = _require(data_dir / "umsab" / language)
        train = (folder / "train_text.txt").read_text(encoding="utf-8").splitlines()
        validation = (folder / "val_text.txt").read_text(encoding="utf-8").splitlines()
        cut = round(len(train) * 0.75)
        benign["fit"][f"umsab_{language}"] = _capped(train[:cut], "fit", SPLIT_SEED)[:300]
        benign["calibration"][f"umsab_{language}"] = _capped(train[cut:], "calibration", SPLIT_SEED)[:150]
        benign["test"][f"umsab_{language}"] = tuple(validation)
    return benign


def load_harm_splits(data_dir: Path) -> HarmSplits:
    """Every split the harm check is fitted, thresholded and tested on."""
    jailbreak, behaviours, row_behaviours = load_jailbreakbench(data_dir)
    return HarmSplits(jailbreak, load_benign(data_dir), behaviours, row_behaviours, load_jailbreak_goals(data_dir))
