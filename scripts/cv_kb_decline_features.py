"""Compare decline-model feature sets by cross-validation grouped by intent, on signals fit_kb_decline.py cached.

    python scripts/fit_kb_decline.py --cache /tmp/decline-signals.json --out /tmp/candidate.json
    python scripts/cv_kb_decline_features.py /tmp/decline-signals.json [--boosting]

For each feature set (the shipped `FEATURES`, each recorded signal added alone, and some together): 5-fold
out-of-fold scores with whole intents left out (the folds of fit_kb_decline.py), the best pooled answer accuracy +
decline recall, the Banking77 / CLINC150 AUC of answerable vs not, Banking77's figures at that point; then
leave-one-set-out (fit on two of CLINC150 / Banking77 / the shop, score the third at the point chosen on the two).
Nothing here reads a held-out split. The tuning-split shortfall column places the point on the tuning split, as
``--operating-point tuning-split`` does, so it is optimistic.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fit_kb_decline as fit

NEW = fit.STUDIED_SIGNALS
SETS = ("clinc150", "banking77", "shop")


def variants() -> dict[str, list[str]]:
    base = list(fit.FEATURES)
    found = {"shipped": base, **{f"+{name}": [*base, name] for name in NEW}}
    found["+all new"] = [*base, *NEW]
    found["+all new +masked_similarity"] = [*base, *NEW, "masked_similarity"]
    return found


def model_maker(boosting: bool) -> Callable[[], Any]:
    if boosting:
        return lambda: HistGradientBoostingClassifier(max_depth=3, max_iter=150, learning_rate=0.05, random_state=7)
    return lambda: LogisticRegression(C=1.0, max_iter=5000)


def scores_of(model: Any, x: np.ndarray) -> np.ndarray:
    if hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(x))
    p = np.clip(model.predict_proba(x)[:, 1], 1e-6, 1 - 1e-6)
    return np.asarray(np.log(p / (1 - p)))


def features_of(rows: Sequence[fit.Row], names: Sequence[str]) -> np.ndarray:
    return np.array([[r.signals[n] for n in names] if r.signals else [0.0] * len(names) for r in rows])


def grouped_scores(rows: list[fit.Row], names: Sequence[str], make: Callable[[], Any]) -> np.ndarray:
    groups = sorted({row.question.group for row in rows})
    random.Random(fit.SEED).shuffle(groups)
    fold_of = {group: index % 5 for index, group in enumerate(groups)}
    fold = np.array([fold_of[row.question.group] for row in rows])
    scored = np.array([row.signals is not None for row in rows])
    x, y = features_of(rows, names), np.array([row.answerable for row in rows])
    scores = np.full(len(rows), math.inf)
    for k in range(5):
        train, test = (fold != k) & scored, (fold == k) & scored
        scores[test] = scores_of(make().fit(x[train], y[train]), x[test])
    return scores


def auc(rows: list[fit.Row], scores: np.ndarray, source: str) -> float:
    picked = [i for i, row in enumerate(rows) if row.question.group.startswith(source) and np.isfinite(scores[i])]
    return float(roc_auc_score([rows[i].answerable for i in picked], scores[picked]))


def tuning_split_shortfall(
    rows: list[fit.Row], split_rows: list[fit.Row], names: Sequence[str], make: Callable[[], Any]
) -> str:
    scored = [row for row in rows if row.signals]
    model = make().fit(features_of(scored, names), np.array([row.answerable for row in scored]))
    values = scores_of(model, features_of(split_rows, names))
    scores = np.where([row.signals is not None for row in split_rows], values, math.inf)
    _, per_set = fit.shortfall_point(split_rows, scores)
    short = sum(max(0.0, fit.TARGET_ACCURACY - a) + max(0.0, fit.TARGET_RECALL - r) for a, r in per_set.values())
    return f"{short:.3f} " + " ".join(f"{name} {a:.3f}/{r:.3f}" for name, (a, r) in per_set.items())


def leave_one_set_out(rows: list[fit.Row], names: Sequence[str], make: Callable[[], Any]) -> str:
    parts = []
    for held in SETS:
        train = [row for row in rows if not row.question.group.startswith(held)]
        test = [row for row in rows if row.question.group.startswith(held)]
        fitted = [row for row in train if row.signals]
        model = make().fit(features_of(fitted, names), np.array([row.answerable for row in fitted]))

        def scores(part: list[fit.Row], model: Any = model) -> np.ndarray:
            values = scores_of(model, features_of(part, names))
            return np.where([row.signals is not None for row in part], values, math.inf)

        threshold, _, _ = fit.operating_point(train, scores(train))
        test_scores = scores(test)
        in_scope = [i for i, row in enumerate(test) if row.question.documents]
        out = [i for i, row in enumerate(test) if not row.question.documents]
        accuracy = sum(test_scores[i] >= threshold and test[i].answerable for i in in_scope) / len(in_scope)
        recall = sum(test_scores[i] < threshold for i in out) / len(out)
        parts.append(f"{held} {accuracy:.3f}/{recall:.3f}")
    return " | ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cache", type=Path, help="the --cache file of scripts/fit_kb_decline.py")
    parser.add_argument("--boosting", action="store_true", help="gradient-boosted trees instead of the logistic fit")
    args = parser.parse_args()
    cached = json.loads(args.cache.read_text(encoding="utf-8"))
    rows, split_rows = fit._rows(cached["fit"]), fit._rows(cached["tuning_split"])
    make = model_maker(args.boosting)
    for name, names in variants().items():
        scores = grouped_scores(rows, names, make)
        threshold, accuracy, recall = fit.operating_point(rows, scores)
        banking = fit.figures(rows, scores, threshold)["banking77"]
        print(
            f"{name:30s} grouped CV accuracy {accuracy:.3f} recall {recall:.3f} sum {accuracy + recall:.3f} | "
            f"AUC banking77 {auc(rows, scores, 'banking77'):.3f} clinc150 {auc(rows, scores, 'clinc150'):.3f} | "
            f"banking77 accuracy {banking['answer_accuracy']:.3f} recall unknown "
            f"{banking.get('decline_recall_unknown', 0.0):.3f} unused {banking.get('decline_recall_unused', 0.0):.3f}",
            flush=True,
        )
        print(f"{'':30s} leave one set out (accuracy/recall): {leave_one_set_out(rows, names, make)}", flush=True)
        print(
            f"{'':30s} tuning-split shortfall (point placed there): "
            f"{tuning_split_shortfall(rows, split_rows, names, make)}",
            flush=True,
        )


if __name__ == "__main__":
    main()
