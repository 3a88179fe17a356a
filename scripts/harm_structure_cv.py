"""Measure reply-structure features (length, numbered / bulleted steps, lines, refusal openers) stacked with pair
mode's TF-IDF compliance logit, by the fit behaviours' 5-fold group CV (the folds of ``behaviour_folds``).

Reads the TF-IDF out-of-fold logits ``scripts/train_harm_cross.py cv`` saved (``tfidf_fit_oof.npy``); the stack
is a logistic regression fitted on four folds' out-of-fold values and scored on the fifth. Measured, not shipped.

    python scripts/harm_structure_cv.py [--cache var/harm_cross]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_harm_pair import recall_at

from bot.evaluation.harm_data import behaviour_folds, load_harm_splits
from bot.evaluation.moderation import shared_data_dir

_STEP = re.compile(r"^\s*(?:\d+[.)]|[-*\u2022]|step \d+)", re.IGNORECASE | re.MULTILINE)
_REFUSAL = re.compile(r"\b(?:I can(?:no|')t|I'm sorry|I am sorry|I apologi[sz]e|As an AI|I won't|cannot)\b", re.I)


def structure(reply: str) -> list[float]:
    """Length, step and line counts, and whether the reply refuses early or at all."""
    words = len(reply.split())
    return [
        np.log1p(words),
        np.log1p(len(_STEP.findall(reply))),
        np.log1p(reply.count("\n")),
        float(bool(_REFUSAL.search(reply[:200]))),
        float(bool(_REFUSAL.search(reply))),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", type=Path, default=Path("var/harm_cross"))
    args = parser.parse_args()
    splits = load_harm_splits(shared_data_dir())
    fit = splits.jailbreak["fit"]
    y = np.array(fit.labels)
    folds = np.array(behaviour_folds(splits))
    tfidf = np.load(args.cache / "tfidf_fit_oof.npy")
    x = np.column_stack([tfidf, np.array([structure(text) for text in fit.texts])])
    stacked = np.zeros(len(y))
    for fold in range(5):
        inside, held = folds != fold, folds == fold
        scaler = StandardScaler().fit(x[inside])
        model = LogisticRegression(C=1.0, class_weight="balanced").fit(scaler.transform(x[inside]), y[inside])
        stacked[held] = model.decision_function(scaler.transform(x[held]))
    report = {
        name: {
            "auc": round(float(roc_auc_score(y, scores)), 4),
            "recall_at_3pct": round(recall_at(y, scores, 0.03), 4),
        }
        for name, scores in (("tfidf", tfidf), ("tfidf_plus_structure", stacked))
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
