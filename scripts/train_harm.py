"""Train the harm check on bot replies (``bot/moderation/data/harm_train.jsonl``).

Logistic regression over bundled-MiniLM features (see ``bot.moderation.harm.harm_features``);
the regularisation strength is chosen by stratified 5-fold cross-validation on the training file
only, and the threshold is 0.5 unless out-of-fold predictions say otherwise. The separate
``harm_eval.jsonl`` is scored once at the end for the report and never used for fitting.

    python scripts/train_harm.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.moderation.embeddings_features import EncoderTokenizer, MiniLMEncoder  # noqa: E402
from bot.moderation.evaluation import evaluate_harm, load_labelled_jsonl  # noqa: E402
from bot.moderation.harm import (  # noqa: E402
    HARM_MAX_TOKENS,
    HARM_METADATA_FILE,
    HARM_WEIGHTS_FILE,
    HarmClassifier,
    harm_features,
)

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "bot" / "moderation"
C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, default=PACKAGE_DIR / "data" / "harm_train.jsonl")
    parser.add_argument("--eval", type=Path, default=PACKAGE_DIR / "data" / "harm_eval.jsonl")
    parser.add_argument("--out", type=Path, default=PACKAGE_DIR / "weights")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    started = time.time()
    train = load_labelled_jsonl(args.train, "harmful")
    encoder, tokenizer = MiniLMEncoder.from_pretrained(), EncoderTokenizer(max_tokens=HARM_MAX_TOKENS)
    features = harm_features(encoder, tokenizer, train.texts)
    labels = np.asarray(train.labels)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=args.seed)

    cv_results = {}
    for c_value in C_GRID:
        model = LogisticRegression(C=c_value, max_iter=5000)
        oof = cross_val_predict(model, features, labels, cv=folds, method="predict_proba")[:, 1]
        predicted = oof >= 0.5
        recall = float(predicted[labels == 1].mean())
        false_block = float(predicted[labels == 0].mean())
        cv_results[c_value] = {"recall": recall, "false_block_rate": false_block, "balanced": recall - false_block}
        print(f"C={c_value}: CV recall {recall:.3f} false-block {false_block:.3f}")
    best_c = max(C_GRID, key=lambda c: cv_results[c]["balanced"])
    model = LogisticRegression(C=best_c, max_iter=5000).fit(features, labels)

    args.out.mkdir(parents=True, exist_ok=True)
    save_file(
        {
            "coefficients": torch.tensor(model.coef_[0], dtype=torch.float32),
            "intercept": torch.tensor([model.intercept_[0]], dtype=torch.float32),
        },
        str(args.out / HARM_WEIGHTS_FILE),
    )
    metadata: dict[str, object] = {
        "model": "logistic regression over [MiniLM(reply), MiniLM(opening sentence), refusal/support cues]",
        "threshold": 0.5,
        "n_features": int(features.shape[1]),
        "C": best_c,
        "cv": {str(c): result for c, result in cv_results.items()},
        "train_file": args.train.name,
        "n_train": len(train),
        "seed": args.seed,
        "command": "python scripts/train_harm.py " + " ".join(sys.argv[1:]),
    }
    evaluation = evaluate_harm(HarmClassifier.load(args.out), load_labelled_jsonl(args.eval, "harmful"))
    metadata["eval"] = {
        "file": args.eval.name,
        "recall": round(evaluation.recall, 4),
        "false_block_rate": round(evaluation.false_block_rate, 4),
        "n_harmful": evaluation.n_harmful,
        "n_harmless": evaluation.n_harmless,
    }
    metadata["training_seconds"] = round(time.time() - started)
    (args.out / HARM_METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(metadata, indent=2))


if __name__ == "__main__":
    main()
