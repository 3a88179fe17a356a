"""Experiment (not shipped): the bundled SmolLM2's hidden states over (request, reply) as harm-check features.

Measures, on the tuning data only, whether the chat model's own reading of a reply adds to pair mode's TF-IDF
compliance model: SmolLM2-135M reads "<user> goal <assistant> reply" in its chat template (goal cut to 40
tokens, reply to 96), the reply tokens' hidden states after layer 18 of 30 are mean-pooled (576 numbers; deeper
layers were not tried for time), and a logistic regression on them is averaged, z-scored, with the TF-IDF
compliance logit. Reported: 5-fold cross-validation over the fit behaviours (grouped by behaviour) and the
calibration behaviours (model fitted on all fit behaviours). The test behaviours are never read.

Why it does not ship (yet): it needs the 135M model in the moderation process (+~540 MB in float32 beside the
engine's own copy) and ~0.6 CPU-s per checked reply on this machine; the way to ship it is to take the hidden
states from the engine's forward pass over the reply it just wrote (the engine owns that code).

    python scripts/train_harm_lm.py [--data ../shared/data] [--cache /tmp/moderation]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_harm_pair import fit_compliance, recall_at

from bot.evaluation.harm_data import behaviour_folds, load_harm_splits
from bot.evaluation.moderation import shared_data_dir
from bot.moderation.harm import HarmClassifier, strip_ellipses

GOAL_TOKENS, REPLY_TOKENS, LAYER = 40, 96, 18
MODEL_DIR = Path.home() / ".cache" / "socialbot" / "models" / "smollm2"


def lm_features(goals: list[str], replies: list[str], cache: Path) -> np.ndarray:
    """Mean-pooled layer-18 states of the reply tokens, one row per (goal, reply); cached as .npy."""
    if cache.is_file():
        return np.load(cache)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(MODEL_DIR)
    model = AutoModelForCausalLM.from_pretrained(MODEL_DIR, dtype=torch.float32).eval()
    model.model.layers = model.model.layers[:LAYER]  # later layers are never read

    def ids(text: str) -> list[int]:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    rows, started = [], time.time()
    for index, (goal, reply) in enumerate(zip(goals, replies, strict=True)):
        head = ids("<|im_start|>user\n") + ids(goal)[:GOAL_TOKENS] + ids("<|im_end|>\n<|im_start|>assistant\n")
        body = ids(reply)[:REPLY_TOKENS]
        with torch.inference_mode():
            states = model.model(torch.tensor([head + body + ids("<|im_end|>\n")]), output_hidden_states=True)
        layer = states.hidden_states[LAYER][0]
        rows.append(layer[len(head) : len(head) + max(1, len(body))].mean(0).numpy())
        if index % 100 == 0:
            print(f"  {cache.name}: {index}/{len(goals)} ({time.time() - started:.0f} s)", flush=True)
    values = np.stack(rows).astype(np.float32)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, values)
    return values


def lm_head(features: np.ndarray, labels: np.ndarray, c_value: float) -> tuple[StandardScaler, LogisticRegression]:
    scaler = StandardScaler().fit(features)
    model = LogisticRegression(C=c_value, max_iter=3000, class_weight="balanced")
    return scaler, model.fit(scaler.transform(features), labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=shared_data_dir())
    parser.add_argument("--cache", type=Path, default=Path("/tmp/moderation"))
    parser.add_argument("--c", type=float, default=0.003, help="the LM head's C (0.003 was best of 0.003/0.03 in CV)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    splits = load_harm_splits(args.data)
    fit, calibration = splits.jailbreak["fit"], splits.jailbreak["calibration"]
    fit_x = lm_features(list(splits.goals["fit"]), list(fit.texts), args.cache / "harm_lm_fit.npy")
    cal_x = lm_features(list(splits.goals["calibration"]), list(calibration.texts), args.cache / "harm_lm_cal.npy")
    fit_y, cal_y = np.array(fit.labels), np.array(calibration.labels)

    folds = np.array(behaviour_folds(splits))
    lm_oof, tf_oof = np.zeros(len(fit_y)), np.zeros(len(fit_y))
    for fold in range(5):
        train, held = folds != fold, folds == fold
        scaler, model = lm_head(fit_x[train], fit_y[train], args.c)
        lm_oof[held] = model.decision_function(scaler.transform(fit_x[held]))
        compliance = fit_compliance(
            [fit.texts[i] for i in np.flatnonzero(train)], [fit.labels[i] for i in np.flatnonzero(train)], 4.0
        )
        tf_oof[held] = compliance.logits([strip_ellipses(fit.texts[i]) for i in np.flatnonzero(held)])

    def stacked(lm: np.ndarray, tf: np.ndarray) -> np.ndarray:
        # Each z-scored by its out-of-fold statistics on the fit behaviours, then averaged.
        return (lm - lm_oof.mean()) / lm_oof.std() + (tf - tf_oof.mean()) / tf_oof.std()

    scaler, model = lm_head(fit_x, fit_y, args.c)
    lm_cal = model.decision_function(scaler.transform(cal_x))
    harm = HarmClassifier.load()
    assert harm.pair is not None
    tf_cal = np.array(harm.pair.compliance.logits([strip_ellipses(text) for text in calibration.texts]))
    print("figure: AUC, recall at 3% false blocks (fit: 5-fold group CV; calibration: fitted on all fit)")
    for name, fit_scores, cal_scores in (
        ("TF-IDF compliance (shipped)", tf_oof, tf_cal),
        ("SmolLM2 layer-18 head", lm_oof, lm_cal),
        ("stacked (z-score average)", stacked(lm_oof, tf_oof), stacked(lm_cal, tf_cal)),
    ):
        print(
            f"  {name:28s} fit CV {roc_auc_score(fit_y, fit_scores):.3f} / {recall_at(fit_y, fit_scores, 0.03):.3f}"
            f"   calibration {roc_auc_score(cal_y, cal_scores):.3f} / {recall_at(cal_y, cal_scores, 0.03):.3f}"
        )


if __name__ == "__main__":
    main()
