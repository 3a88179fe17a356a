"""Train the multilingual request model: is this request harmful, in any of the encoder's 16 languages?

A logistic regression over the bundled Universal Sentence Encoder multilingual's 512-d vectors
(``bot/multilingual_encoder.py``, cross-lingually aligned), so harm learnt from English requests is read in other
languages. Harmful: the JailbreakBench goals of the fit behaviours (``bot/evaluation/harm_data.py``). Benign:
CLINC150 train queries and Banking77 train queries of the fit intents (intents dealt as in harm_data), UMSAB val
tweets of eight languages (75 % of each file, seeded), the small-talk examples of every language
(``prompts/small_talk``), the project's harmless instructions and its requests for help against a harm
(``bot/moderation/data``).

Settings: C by 5-fold cross-validation over the fit rows grouped by behaviour / intent / language (score: recall
at the fold's 0.1 % false-refusal point). Threshold on the tuning split only (JailbreakBench calibration goals
against CLINC150 val + calibration-intent queries, Banking77 calibration-intent queries, the other 25 % of UMSAB
val): the highest recall with at most 0.1 % false refusals. ``--heldout`` scores the held-out split once
(JailbreakBench test goals; CLINC150 test + Banking77 test.csv queries of the test intents; 300 UMSAB train tweets
per language) and prints it beside tuning; count that look in the README.

    python scripts/train_request_harm_use.py [--data ../shared/data] [--heldout]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import sys
import tomllib
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.evaluation.harm_data import SPLIT_SEED, deal_groups, load_jailbreak_goals, load_jailbreakbench
from bot.evaluation.moderation import shared_data_dir
from bot.moderation.request_harm import MULTILINGUAL_HEAD_FILE
from bot.multilingual_encoder import MultilingualEncoder

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "var" / "request_use"
UMSAB = ("arabic", "english", "french", "german", "hindi", "italian", "portuguese", "spanish")
C_GRID = (0.3, 1.0, 3.0, 10.0)
MAX_FALSE_RATE = 0.001
UMSAB_HELDOUT_PER_LANGUAGE = 300


def embed(encoder: MultilingualEncoder, texts: list[str]) -> np.ndarray:
    """USE vectors of ``texts``, cached under var/ by a hash of the texts."""
    digest = hashlib.sha256("\n\x00".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"use_{digest}.npy"
    if path.is_file():
        return np.load(path)
    vectors = np.concatenate([encoder.encode(texts[i : i + 256]) for i in range(0, len(texts), 256)])
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def intent_splits(pairs: list[tuple[str, str]]) -> dict[str, str]:
    return deal_groups([intent for _, intent in pairs], {})


def load_texts(data: Path) -> dict[str, list[tuple[str, int, str]]]:
    """(text, label, group) per split name: fit, tune, heldout."""
    rows: dict[str, list[tuple[str, int, str]]] = {"fit": [], "tune": [], "heldout": []}
    goals = load_jailbreak_goals(data)
    _, _, row_behaviours = load_jailbreakbench(data)
    for split, target in (("fit", "fit"), ("calibration", "tune"), ("test", "heldout")):
        seen: set[str] = set()
        for goal, behaviour in zip(goals[split], row_behaviours[split], strict=True):  # type: ignore[index]
            if goal not in seen:
                seen.add(goal)
                rows[target].append((goal, 1, f"jbb:{behaviour}"))
    clinc = json.loads((data / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    # The same intent deal as harm_data (train + test rows together), so its test intents stay test here.
    clinc_split = intent_splits([(str(t), str(i)) for t, i in clinc["train"] + clinc["test"]])
    for part in ("train", "val", "test"):
        for text, intent in clinc[part]:
            split = clinc_split.get(str(intent))
            if split is None:
                continue
            if split == "fit" and part == "train":
                rows["fit"].append((str(text), 0, f"clinc:{intent}"))
            elif split == "calibration" or (split == "fit" and part == "val"):
                rows["tune"].append((str(text), 0, f"clinc:{intent}"))
            elif split == "test" and part == "test":
                rows["heldout"].append((str(text), 0, f"clinc:{intent}"))
    with (data / "banking77" / "train.csv").open(encoding="utf-8", newline="") as handle:
        banking_train = [(row["text"], row["category"]) for row in csv.DictReader(handle)]
    banking_split = intent_splits(banking_train)
    for text, intent in banking_train:
        if banking_split[intent] == "fit":
            rows["fit"].append((text, 0, f"banking:{intent}"))
        elif banking_split[intent] == "calibration":
            rows["tune"].append((text, 0, f"banking:{intent}"))
    with (data / "banking77" / "test.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if banking_split.get(row["category"]) == "test":
                rows["heldout"].append((row["text"], 0, f"banking:{row['category']}"))
    for language in UMSAB:
        folder = data / "umsab" / language
        validation = [t for t in (folder / "val_text.txt").read_text(encoding="utf-8").splitlines() if t.strip()]
        random.Random(SPLIT_SEED).shuffle(validation)
        cut = round(len(validation) * 0.75)
        rows["fit"] += [(t, 0, f"umsab:{language}") for t in validation[:cut]]
        rows["tune"] += [(t, 0, f"umsab:{language}") for t in validation[cut:]]
        train = [t for t in (folder / "train_text.txt").read_text(encoding="utf-8").splitlines() if t.strip()]
        random.Random(SPLIT_SEED).shuffle(train)
        rows["heldout"] += [(t, 0, f"umsab:{language}") for t in train[:UMSAB_HELDOUT_PER_LANGUAGE]]
    for path in sorted((ROOT / "prompts" / "small_talk").glob("*.toml")):
        for table in tomllib.loads(path.read_text(encoding="utf-8")).values():
            if isinstance(table, dict):
                rows["fit"] += [(str(t), 0, f"small_talk:{path.stem}") for t in table.get("examples", [])]
    moderation_data = ROOT / "bot" / "moderation" / "data"
    for line in (moderation_data / "harm_benign_requests.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            rows["fit"].append((json.loads(line)["text"], 0, "own:benign_requests"))
    for line in (moderation_data / "request_help_against_harm.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            rows["fit"].append((line.strip(), 0, "own:help_against_harm"))
    return rows


def threshold_for(labels: np.ndarray, scores: np.ndarray, max_rate: float) -> float:
    """The lowest threshold (on a 0.01 grid) whose false refusals are at most ``max_rate`` of the negatives."""
    negatives = scores[labels == 0]
    allowed = int(max_rate * len(negatives))
    for threshold in np.arange(0.01, 1.0, 0.01):
        if int((negatives >= threshold).sum()) <= allowed:
            return round(float(threshold), 2)
    return 0.99


def fit(vectors: np.ndarray, labels: np.ndarray, c_value: float) -> LogisticRegression:
    model = LogisticRegression(C=c_value, max_iter=5000, class_weight="balanced")
    model.fit(vectors, labels)
    return model


def choose_c(vectors: np.ndarray, labels: np.ndarray, groups: list[str]) -> float:
    names = sorted(set(groups))
    random.Random(SPLIT_SEED).shuffle(names)
    fold_of = {name: index % 5 for index, name in enumerate(names)}
    folds = np.array([fold_of[group] for group in groups])
    best = (-1.0, C_GRID[0])
    for c_value in C_GRID:
        scores = np.zeros(len(labels))
        for fold in range(5):
            train = folds != fold
            scores[~train] = fit(vectors[train], labels[train], c_value).predict_proba(vectors[~train])[:, 1]
        threshold = threshold_for(labels, scores, MAX_FALSE_RATE)
        recall = float((scores[labels == 1] >= threshold).mean())
        print(f"CV C={c_value}: threshold {threshold} recall {recall:.3f}")
        if recall > best[0]:
            best = (recall, c_value)
    return best[1]


def report(name: str, rows: list[tuple[str, int, str]], scores: np.ndarray, threshold: float) -> None:
    labels = np.array([label for _, label, _ in rows])
    flagged = scores >= threshold
    recall = float(flagged[labels == 1].mean())
    sources: dict[str, list[int]] = {}
    for (_, label, group), hit in zip(rows, flagged, strict=True):
        if label == 0:
            sources.setdefault(group.split(":")[0], []).append(int(hit))
    parts = ", ".join(f"{s} {sum(v)}/{len(v)}" for s, v in sorted(sources.items()))
    false = [text for (text, label, _), hit in zip(rows, flagged, strict=True) if hit and not label]
    print(
        f"{name}: recall {recall:.3f} of {int(labels.sum())};"
        f" false refusals {len(false)}/{len(labels) - labels.sum()} ({parts})"
    )
    for text in false[:10]:
        print(f"  false: {text[:100]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--heldout", action="store_true", help="score the held-out split once (count the look)")
    args = parser.parse_args()
    data = args.data or shared_data_dir()
    rows = load_texts(data)
    encoder = MultilingualEncoder(threads=1)
    vectors = {name: embed(encoder, [text for text, _, _ in split]) for name, split in rows.items()}
    labels = {name: np.array([label for _, label, _ in split]) for name, split in rows.items()}
    print({name: (len(split), int(labels[name].sum())) for name, split in rows.items()})
    c_value = choose_c(vectors["fit"], labels["fit"], [group for _, _, group in rows["fit"]])
    model = fit(vectors["fit"], labels["fit"], c_value)
    tune_scores = model.predict_proba(vectors["tune"])[:, 1]
    threshold = threshold_for(labels["tune"], tune_scores, MAX_FALSE_RATE)
    print(f"chosen C={c_value} threshold={threshold}")
    report("tuning", rows["tune"], tune_scores, threshold)
    head = {
        "encoder": "bundled:universal-sentence-encoder-multilingual-3",
        "recipe": "scripts/train_request_harm_use.py",
        "c": c_value,
        "threshold": threshold,
        "coef": [round(float(v), 6) for v in model.coef_[0]],
        "intercept": round(float(model.intercept_[0]), 6),
    }
    MULTILINGUAL_HEAD_FILE.write_text(json.dumps(head) + "\n", encoding="utf-8")
    print(f"wrote {MULTILINGUAL_HEAD_FILE}")
    if args.heldout:
        report("HELD OUT", rows["heldout"], model.predict_proba(vectors["heldout"])[:, 1], threshold)


if __name__ == "__main__":
    main()
