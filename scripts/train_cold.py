"""Train the Chinese offensive-language classifier on COLD (``../shared/data/cold``).

Recipe (seeded, ~2 minutes on a shared 2-core CPU):
- ``train.csv`` is split, stratified by topic and label, into fit (85%) and calibration (15%); ``dev.csv`` is the
  held-out test (rows whose text also appears in train.csv are dropped from it).
- Features: character n-grams hashed into 2^20 buckets, sublinear TF-IDF, L2 norm; a logistic regression.
- The n-gram length and C are chosen from a small grid, and the threshold (best macro-F1) is set, on the
  calibration split only. The test split is scored once, at the end, for the record.
- ``--cross-topic`` also reports each topic (race / gender / region) held out: trained on the fit rows of the
  other two, thresholded on their calibration rows, scored on the test rows of the held-out topic.

    python scripts/train_cold.py [--cold ../shared/data/cold] [--cross-topic]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.evaluation.moderation import class_metrics, shared_data_dir
from bot.moderation.chinese import COLD_METADATA_FILE, COLD_WEIGHTS_FILE
from bot.moderation.classifier import default_weights_dir
from bot.moderation.linear_text import HashedFeatures, LinearTextModel, idf_from_counts, save_linear_model

SEED = 13
CALIBRATION_FRACTION = 0.15
GRID = [(3, 2.0), (3, 8.0), (4, 2.0), (4, 8.0)]


def read_cold(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [{"text": row["TEXT"], "topic": row["topic"], "label": row["label"]} for row in csv.DictReader(handle)]


def calibration_split(rows: list[dict[str, str]], seed: int) -> tuple[list[int], list[int]]:
    """Stratified by (topic, label): the same rows and seed always give the same split."""
    rng = np.random.default_rng(seed)
    calibration: list[int] = []
    for key in sorted({(row["topic"], row["label"]) for row in rows}):
        members = [index for index, row in enumerate(rows) if (row["topic"], row["label"]) == key]
        shuffled = rng.permutation(members)
        calibration.extend(int(i) for i in shuffled[: round(len(members) * CALIBRATION_FRACTION)])
    chosen = set(calibration)
    return [i for i in range(len(rows)) if i not in chosen], sorted(calibration)


def fit_model(texts: list[str], labels: list[int], ngram_max: int, c_value: float) -> LinearTextModel:
    features = HashedFeatures("char", 1, ngram_max, 2**20)
    counts = features.vectorizer().transform(texts).tocsr()
    idf = idf_from_counts(counts)
    unfitted = LinearTextModel(features, idf, np.zeros(features.n_features, dtype=np.float32), 0.0)
    regression = LogisticRegression(C=c_value, max_iter=2000, class_weight="balanced")
    regression.fit(unfitted.transform(texts), labels)
    return LinearTextModel(features, idf, regression.coef_[0].astype(np.float32), float(regression.intercept_[0]))


def macro_f1(labels: list[int], scores: list[float], threshold: float) -> float:
    predictions = [int(score >= threshold) for score in scores]
    return (class_metrics(labels, predictions, 1).f1 + class_metrics(labels, predictions, 0).f1) / 2


def best_threshold(labels: list[int], scores: list[float]) -> tuple[float, float]:
    best = (0.0, 0.5)
    for threshold in np.arange(0.20, 0.81, 0.01):
        value = macro_f1(labels, scores, float(threshold))
        if value > best[0]:
            best = (value, round(float(threshold), 2))
    return best


def figures(labels: list[int], scores: list[float], threshold: float) -> dict[str, float | int]:
    predictions = [int(score >= threshold) for score in scores]
    offensive = class_metrics(labels, predictions, 1)
    accuracy = sum(int(p == y) for p, y in zip(predictions, labels, strict=True)) / len(labels)
    return {
        "macro_f1": round(macro_f1(labels, scores, threshold), 4),
        "accuracy": round(accuracy, 4),
        "precision_offensive": round(offensive.precision, 4),
        "recall_offensive": round(offensive.recall, 4),
        "n": len(labels),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--cold", type=Path, default=shared_data_dir() / "cold", help="folder with COLD train.csv and dev.csv"
    )
    parser.add_argument("--out", type=Path, default=default_weights_dir())
    parser.add_argument("--cross-topic", action="store_true", help="also report each topic held out")
    args = parser.parse_args()
    started = time.time()
    rows = read_cold(args.cold / "train.csv")
    train_texts = {row["text"] for row in rows}
    test = [row for row in read_cold(args.cold / "dev.csv") if row["text"] not in train_texts]
    fit_rows, calibration_rows = calibration_split(rows, SEED)
    fit_texts, fit_labels = [rows[i]["text"] for i in fit_rows], [int(rows[i]["label"]) for i in fit_rows]
    cal_texts, cal_labels = (
        [rows[i]["text"] for i in calibration_rows],
        [int(rows[i]["label"]) for i in calibration_rows],
    )
    print(f"fit {len(fit_rows)}  calibration {len(calibration_rows)}  test (dev.csv) {len(test)}", flush=True)

    grid: list[dict[str, float]] = []
    best: tuple[float, int, float, float, LinearTextModel] | None = None
    for ngram_max, c_value in GRID:
        model = fit_model(fit_texts, fit_labels, ngram_max, c_value)
        value, threshold = best_threshold(cal_labels, model.score_batch(cal_texts))
        grid.append({"ngram_max": ngram_max, "C": c_value, "calibration_macro_f1": round(value, 4)})
        print(f"  char 1-{ngram_max} C={c_value}: calibration macro-F1 {value:.4f} at {threshold}", flush=True)
        if best is None or value > best[0]:
            best = (value, ngram_max, c_value, threshold, model)
    assert best is not None
    _, ngram_max, c_value, threshold, model = best
    calibration = figures(cal_labels, model.score_batch(cal_texts), threshold)
    test_labels = [int(row["label"]) for row in test]
    held_out = figures(test_labels, model.score_batch([row["text"] for row in test]), threshold)
    metadata: dict[str, object] = {
        "model": "hashed char n-gram TF-IDF + logistic regression (COLD)",
        "threshold": threshold,
        "recipe": {"seed": SEED, "ngram_max": ngram_max, "C": c_value, "class_weight": "balanced", "grid": grid},
        "split": {
            "fit": "train.csv minus calibration",
            "calibration": f"train.csv, {CALIBRATION_FRACTION:.0%} stratified by topic and label, seed {SEED}",
            "test": "dev.csv minus texts also in train.csv (scored once, after every choice)",
            "n_fit": len(fit_rows),
            "n_calibration": len(calibration_rows),
            "n_test": len(test),
        },
        "calibration": calibration,
        "test": held_out,
        "command": "python scripts/train_cold.py " + " ".join(sys.argv[1:]),
    }
    if args.cross_topic:
        metadata["cross_topic"] = cross_topic(rows, fit_rows, calibration_rows, test, ngram_max, c_value)
    metadata["training_seconds"] = round(time.time() - started)
    args.out.mkdir(parents=True, exist_ok=True)
    save_linear_model(model, args.out / COLD_WEIGHTS_FILE, args.out / COLD_METADATA_FILE, metadata)
    print(json.dumps(metadata, indent=2))


def cross_topic(
    rows: list[dict[str, str]],
    fit_rows: list[int],
    calibration_rows: list[int],
    test: list[dict[str, str]],
    ngram_max: int,
    c_value: float,
) -> dict[str, dict[str, float | int]]:
    """Per held-out topic: trained and thresholded without that topic, scored on its test rows."""
    report: dict[str, dict[str, float | int]] = {}
    for topic in sorted({row["topic"] for row in rows}):
        fit = [rows[i] for i in fit_rows if rows[i]["topic"] != topic]
        calibration = [rows[i] for i in calibration_rows if rows[i]["topic"] != topic]
        model = fit_model([r["text"] for r in fit], [int(r["label"]) for r in fit], ngram_max, c_value)
        cal_labels = [int(r["label"]) for r in calibration]
        _, threshold = best_threshold(cal_labels, model.score_batch([r["text"] for r in calibration]))
        held = [row for row in test if row["topic"] == topic]
        report[topic] = figures(
            [int(r["label"]) for r in held], model.score_batch([r["text"] for r in held]), threshold
        )
        print(f"  topic {topic} held out: {report[topic]}", flush=True)
    return report


if __name__ == "__main__":
    main()
