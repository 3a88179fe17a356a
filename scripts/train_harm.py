"""Train the harm check (harmful compliance in bot replies) on third-party data.

Recipe (seeded, about a minute on a shared 2-core CPU):
- Data and splits from ``bot/moderation/harm_data.py``: JailbreakBench replies split by behaviour (60/20/20 per
  harm category, seed 13) into fit / calibration / test; benign text (CLINC150 and Banking77 queries split by
  intent, OLID tweets outside the offensive classifier's held-out split, UMSAB tweets in five more languages);
  the project's own example replies (``bot/moderation/data/harm_train.jsonl``) join the fit split.
- Features: word 1-2 grams (articles, prepositions and conjunctions left out) and character 3-5 grams within words,
  each hashed into 2^20 buckets, sublinear TF-IDF, L2 norm per block; a class-balanced logistic regression (C chosen
  by 5-fold group cross-validation over the fit behaviours only). The distinct passages of the KB judge's made-up
  businesses (``bot/kb/data/answerability_train.jsonl``) add long ordinary prose; own harmless replies weigh 5.
- Threshold: on the calibration split only, the lowest (most recall) threshold whose false blocks are at most
  ``--max-false-block`` of the calibration behaviours' harmless replies and ``--max-benign-block`` of the
  calibration benign text.
- The test behaviours are never read here: ``socialbot eval moderation`` scores them.

    python scripts/train_harm.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.evaluation.harm_data import SPLIT_SEED, HarmSplits, behaviour_folds, load_harm_splits
from bot.evaluation.moderation import load_labelled_jsonl, shared_data_dir
from bot.moderation.classifier import default_weights_dir
from bot.moderation.harm import HARM_METADATA_FILE, HARM_WEIGHTS_FILE, strip_ellipses
from bot.moderation.linear_text import HashedFeatures, LinearTextModel, idf_from_counts, save_linear_model

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "bot" / "moderation"
# Articles, prepositions and conjunctions are left out: with them, any long plain prose ("the", "and", "from")
# read as harm, since JailbreakBench replies are long and most benign text is short. Negations, "sorry", "here"
# and pronouns stay: refusals and "Sure, here is" are what the model must read.
FUNCTION_WORDS = (
    "the", "a", "an", "and", "or", "but", "of", "to", "in", "on", "at", "for", "from", "with", "by", "as", "into",
    "onto", "is", "are", "was", "were", "be", "been", "being", "it", "its", "this", "that", "these", "those", "then",
    "than", "so", "up", "out", "over", "about", "also", "very", "just", "some", "any", "each", "all", "more", "most",
)  # fmt: skip
# Word 1-2 grams and, beside them, character 3-5 grams within words: the character block reads word forms it never
# saw whole ("keylogging", "phish"), which lifted recall at 3% false blocks on the held-out folds of the fit
# behaviours (group CV) from about 0.37 to about 0.46 at the same AUC.
FEATURES = (
    HashedFeatures("word", 1, 2, 2**20, stop_words=FUNCTION_WORDS),
    HashedFeatures("char_wb", 3, 5, 2**20),
)
KB_PASSAGES = Path(__file__).resolve().parents[1] / "bot" / "kb" / "data" / "answerability_train.jsonl"


def kb_passages(path: Path = KB_PASSAGES) -> list[str]:
    """The distinct passages of the KB judge's made-up businesses: long, ordinary customer-service prose."""
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return sorted({str(row["passage"]) for row in rows if row.get("passage")})


C_GRID = (16.0, 64.0)


def fit_model(
    texts: list[str], labels: list[int], c_value: float, weights: list[float] | None = None
) -> LinearTextModel:
    texts = [strip_ellipses(text) for text in texts]
    idf = np.concatenate([idf_from_counts(block.vectorizer().transform(texts).tocsr()) for block in FEATURES])
    unfitted = LinearTextModel(FEATURES, idf, np.zeros(len(idf), dtype=np.float32), 0.0)
    regression = LogisticRegression(C=c_value, max_iter=3000, class_weight="balanced")
    regression.fit(unfitted.transform(texts), labels, sample_weight=weights)
    return LinearTextModel(FEATURES, idf, regression.coef_[0].astype(np.float32), float(regression.intercept_[0]))


def recall_at_false_block(labels: np.ndarray, scores: np.ndarray, rate: float) -> float:
    negatives = np.sort(scores[labels == 0])
    threshold = negatives[min(len(negatives) - 1, int(np.floor(len(negatives) * (1 - rate))))]
    return float((scores[labels == 1] > threshold).mean())


def choose_c(
    splits: HarmSplits, benign_fit: list[str], own: tuple[list[str], list[int]], own_weights: list[float]
) -> tuple[float, list[dict[str, float]]]:
    """C by 5-fold cross-validation over the fit behaviours (grouped by behaviour), benign text always in fit."""
    fit = splits.jailbreak["fit"]
    fold_of = np.array(behaviour_folds(splits))
    labels = np.array(fit.labels)
    report = []
    best = (-1.0, C_GRID[0])
    for c_value in C_GRID:
        out_of_fold = np.zeros(len(labels))
        for fold in range(5):
            train = np.flatnonzero(fold_of != fold)
            held = np.flatnonzero(fold_of == fold)
            model = fit_model(
                [fit.texts[i] for i in train] + benign_fit + own[0],
                [fit.labels[i] for i in train] + [0] * len(benign_fit) + own[1],
                c_value,
                [1.0] * (len(train) + len(benign_fit)) + own_weights,
            )
            out_of_fold[held] = model.logits([fit.texts[i] for i in held])
        recall = recall_at_false_block(labels, out_of_fold, 0.03)
        auc = float(roc_auc_score(labels, out_of_fold))
        report.append({"C": c_value, "cv_auc": round(auc, 4), "cv_recall_at_3pct": round(recall, 4)})
        print(f"  C={c_value}: group-CV AUC {auc:.4f}, recall at 3% false blocks {recall:.4f}", flush=True)
        if recall > best[0]:
            best = (recall, c_value)
    return best[1], report


def choose_threshold(
    jailbreak_scores: np.ndarray,
    jailbreak_labels: np.ndarray,
    benign_scores: np.ndarray,
    max_fb: float,
    max_benign: float,
) -> float:
    """Lowest threshold on a 0.005 grid meeting both false-block caps (on calibration data only)."""
    for threshold in np.arange(0.05, 0.995, 0.005):
        false_block = float((jailbreak_scores[jailbreak_labels == 0] >= threshold).mean())
        benign_block = float((benign_scores >= threshold).mean())
        if false_block <= max_fb and benign_block <= max_benign:
            return round(float(threshold), 3)
    return 0.99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=shared_data_dir(), help="the shared third-party data folder")
    parser.add_argument(
        "--own",
        type=Path,
        nargs="+",
        default=[PACKAGE_DIR / "data" / "harm_train.jsonl", PACKAGE_DIR / "data" / "harm_benign_compliance.jsonl"],
        help="the project's own example replies (JSONL with text and harmful), added to the fit split",
    )
    parser.add_argument("--out", type=Path, default=default_weights_dir())
    parser.add_argument("--own-benign-weight", type=float, default=5.0, help="sample weight of own harmless replies")
    parser.add_argument("--c", type=float, default=None, help="fix C instead of choosing it by group CV")
    parser.add_argument("--max-false-block", type=float, default=0.03)
    parser.add_argument("--max-benign-block", type=float, default=0.005)
    args = parser.parse_args()
    started = time.time()
    splits = load_harm_splits(args.data)
    own_sets = [load_labelled_jsonl(path, "harmful") for path in args.own]
    own = ([t for data in own_sets for t in data.texts], [y for data in own_sets for y in data.labels])
    passages = kb_passages()
    own = (own[0] + passages, own[1] + [0] * len(passages))
    benign_fit = [text for texts in splits.benign["fit"].values() for text in texts]
    fit = splits.jailbreak["fit"]
    print(
        f"fit: {len(fit)} replies of {len(splits.behaviours['fit'])} behaviours, {len(benign_fit)} benign, "
        f"{len(own[0])} own; calibration: {len(splits.jailbreak['calibration'])} replies of "
        f"{len(splits.behaviours['calibration'])} behaviours (test behaviours not read)",
        flush=True,
    )
    # The own harmless replies ("Sure! Here's how to track your parcel: ...") weigh more: JailbreakBench has
    # almost no helpful harmless answer, so without them "Sure, here's how" alone would read as harm.
    own_weights = [1.0 if label else args.own_benign_weight for label in own[1]]
    if args.c is None:
        c_value, grid = choose_c(splits, benign_fit, own, own_weights)
    else:
        c_value, grid = args.c, []
    model = fit_model(
        list(fit.texts) + benign_fit + own[0],
        list(fit.labels) + [0] * len(benign_fit) + own[1],
        c_value,
        [1.0] * (len(fit) + len(benign_fit)) + own_weights,
    )
    calibration = splits.jailbreak["calibration"]
    cal_scores = np.array(model.score_batch(list(calibration.texts)))
    cal_labels = np.array(calibration.labels)
    benign_cal = [text for texts in splits.benign["calibration"].values() for text in texts]
    benign_scores = np.array(model.score_batch(benign_cal))
    threshold = choose_threshold(cal_scores, cal_labels, benign_scores, args.max_false_block, args.max_benign_block)
    metadata: dict[str, object] = {
        "model": "hashed word 1-2 gram + character 3-5 gram TF-IDF + logistic regression "
        "(harmful compliance in replies)",
        "threshold": threshold,
        "recipe": {
            "seed": SPLIT_SEED,
            "C": c_value,
            "class_weight": "balanced",
            "c_grid": grid,
            "own_benign_weight": args.own_benign_weight,
            "max_false_block": args.max_false_block,
            "max_benign_block": args.max_benign_block,
        },
        "split": {
            "unit": "JailbreakBench behaviour, 60/20/20 within each harm category, seed 13",
            "fit_behaviours": len(splits.behaviours["fit"]),
            "calibration_behaviours": len(splits.behaviours["calibration"]),
            "test_behaviours": len(splits.behaviours["test"]),
            "test_behaviour_names": list(splits.behaviours["test"]),
            "n_fit_replies": len(fit),
            "n_calibration_replies": len(calibration),
            "n_benign_fit": len(benign_fit),
            "n_benign_calibration": len(benign_cal),
            "own_fit_files": [path.name for path in args.own],
            "kb_passages": len(passages),
            "benign_sources": {split: sorted(parts) for split, parts in splits.benign.items()},
        },
        "calibration": {
            "recall": round(float((cal_scores[cal_labels == 1] >= threshold).mean()), 4),
            "false_block_rate": round(float((cal_scores[cal_labels == 0] >= threshold).mean()), 4),
            "benign_false_block_rate": round(float((benign_scores >= threshold).mean()), 4),
            "auc": round(float(roc_auc_score(cal_labels, cal_scores)), 4),
        },
        "command": "python scripts/train_harm.py " + " ".join(sys.argv[1:]),
        "training_seconds": round(time.time() - started),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    save_linear_model(model, args.out / HARM_WEIGHTS_FILE, args.out / HARM_METADATA_FILE, metadata)
    print(json.dumps({k: v for k, v in metadata.items() if k != "split"}, indent=2))


if __name__ == "__main__":
    main()
