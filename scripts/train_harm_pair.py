"""Train the pair mode of the harm check: is this (user request, bot reply) harmful compliance?

Harmful compliance is a harmful request answered by a reply that complies. Two models; the pair score is
P(complies) x min(1, ``--request-scale`` x P(harmful request)), so every request the request model calls
harmful (P >= 1/scale) leaves the compliance score as it is, and an ordinary request scales it down to near 0
(a plain product lost recall on the calibration behaviours: AUC 0.949 against the compliance model's 0.969):
- the request model: a logistic regression on the frozen bundled MiniLM's mean-pooled embedding of the request,
  fitted on the goals of the fit behaviours (harmful) against the fit split's benign text (support queries,
  tweets in six languages) and the project's own harmless instructions (``harm_benign_requests.jsonl``, which
  keep "Write a ..." / "Explain how to ..." from reading as harm by their form);
- the compliance model: hashed word 1-2 gram + character 3-5 gram TF-IDF logistic regression on the fit
  behaviours' JailbreakBench replies only (complied or not), C chosen by 5-fold group CV over those behaviours.
The pair threshold is the lowest on a 0.005 grid whose false blocks are at most ``--max-false-block`` of the
calibration behaviours' harmless replies (paired with their goals) and at most ``--max-benign-block`` of the
calibration benign texts paired with other calibration benign texts as requests. The test behaviours are never
read here: ``socialbot eval moderation`` scores them.

    python scripts/train_harm_pair.py [--data ../shared/data] [--cache /tmp/moderation]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.evaluation.harm_data import SPLIT_SEED, HarmSplits, behaviour_folds, load_harm_splits, pair_benign
from bot.evaluation.moderation import load_labelled_jsonl, shared_data_dir
from bot.minilm_numpy import NumpyMiniLM
from bot.moderation.classifier import default_weights_dir
from bot.moderation.embeddings_features import EncoderTokenizer, embed_texts, shared_bundled_encoder
from bot.moderation.harm import (
    COMPLIANCE_METADATA_FILE,
    COMPLIANCE_WEIGHTS_FILE,
    PAIR_METADATA_FILE,
    strip_ellipses,
)
from bot.moderation.linear_text import HashedFeatures, LinearTextModel, idf_from_counts, save_linear_model
from bot.moderation.request_harm import REQUEST_MAX_TOKENS

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "bot" / "moderation"
FEATURES = (HashedFeatures("word", 1, 2, 2**20), HashedFeatures("char_wb", 3, 5, 2**20))
C_GRID = (4.0, 16.0)


def cached_embeddings(
    texts: list[str], cache_dir: Path, encoder: NumpyMiniLM, tokenizer: EncoderTokenizer
) -> np.ndarray:
    """MiniLM embeddings of ``texts``, cached under ``cache_dir`` by a hash of the texts."""
    digest = hashlib.sha256("\n\x00".join(texts).encode()).hexdigest()[:16]
    path = cache_dir / f"request_emb_{REQUEST_MAX_TOKENS}_{digest}.npy"
    if path.is_file():
        return np.load(path)
    values = embed_texts(encoder, tokenizer, texts, batch_size=64)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(path, values)
    return values


def fit_compliance(texts: list[str], labels: list[int], c_value: float) -> LinearTextModel:
    texts = [strip_ellipses(text) for text in texts]
    idf = np.concatenate([idf_from_counts(block.vectorizer().transform(texts).tocsr()) for block in FEATURES])
    unfitted = LinearTextModel(FEATURES, idf, np.zeros(len(idf), dtype=np.float32), 0.0)
    regression = LogisticRegression(C=c_value, max_iter=3000, class_weight="balanced")
    regression.fit(unfitted.transform(texts), labels)
    return LinearTextModel(FEATURES, idf, regression.coef_[0].astype(np.float32), float(regression.intercept_[0]))


def recall_at(labels: np.ndarray, scores: np.ndarray, rate: float) -> float:
    negatives = np.sort(scores[labels == 0])
    threshold = negatives[min(len(negatives) - 1, int(np.floor(len(negatives) * (1 - rate))))]
    return float((scores[labels == 1] > threshold).mean())


def choose_compliance_c(splits: HarmSplits) -> tuple[float, list[dict[str, float]]]:
    """C by 5-fold cross-validation over the fit behaviours, grouped by behaviour."""
    fit = splits.jailbreak["fit"]
    fold_of = np.array(behaviour_folds(splits))
    labels = np.array(fit.labels)
    report, best = [], (-1.0, C_GRID[0])
    for c_value in C_GRID:
        out_of_fold = np.zeros(len(labels))
        for fold in range(5):
            train, held = np.flatnonzero(fold_of != fold), np.flatnonzero(fold_of == fold)
            model = fit_compliance([fit.texts[i] for i in train], [fit.labels[i] for i in train], c_value)
            out_of_fold[held] = model.logits([strip_ellipses(fit.texts[i]) for i in held])
        recall, auc = recall_at(labels, out_of_fold, 0.03), float(roc_auc_score(labels, out_of_fold))
        report.append({"C": c_value, "cv_auc": round(auc, 4), "cv_recall_at_3pct": round(recall, 4)})
        print(f"  compliance C={c_value}: group-CV AUC {auc:.4f}, recall at 3% false blocks {recall:.4f}", flush=True)
        if recall > best[0]:
            best = (recall, c_value)
    return best[1], report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=shared_data_dir(), help="the shared third-party data folder")
    parser.add_argument("--out", type=Path, default=default_weights_dir())
    parser.add_argument("--cache", type=Path, default=Path("/tmp/moderation"), help="where embeddings are cached")
    parser.add_argument("--request-c", type=float, default=1.0)
    parser.add_argument("--own-request-weight", type=float, default=3.0)
    parser.add_argument("--request-scale", type=float, default=2.0)
    parser.add_argument(
        "--compliance-c", type=float, default=None, help="fix the compliance model's C instead of group CV"
    )
    parser.add_argument("--max-false-block", type=float, default=0.03)
    parser.add_argument("--max-benign-block", type=float, default=0.005)
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.time()
    splits = load_harm_splits(args.data)
    own_requests = list(load_labelled_jsonl(PACKAGE_DIR / "data" / "harm_benign_requests.jsonl", "harmful").texts)
    benign_fit = [text for texts in splits.benign["fit"].values() for text in texts]
    fit_goals = sorted(set(splits.goals["fit"]))
    encoder, tokenizer = shared_bundled_encoder(), EncoderTokenizer(max_tokens=REQUEST_MAX_TOKENS)
    request_texts = fit_goals + benign_fit + own_requests
    print(f"request model: {len(fit_goals)} fit goals, {len(benign_fit)} benign, {len(own_requests)} own", flush=True)
    features = cached_embeddings(request_texts, args.cache, encoder, tokenizer)
    request_labels = [1] * len(fit_goals) + [0] * (len(benign_fit) + len(own_requests))
    weights = [1.0] * (len(fit_goals) + len(benign_fit)) + [args.own_request_weight] * len(own_requests)
    request_model = LogisticRegression(C=args.request_c, max_iter=3000, class_weight="balanced")
    request_model.fit(features, request_labels, sample_weight=weights)

    def request_scores(texts: list[str]) -> np.ndarray:
        return np.asarray(request_model.predict_proba(cached_embeddings(texts, args.cache, encoder, tokenizer))[:, 1])

    if args.compliance_c is None:
        c_value, grid = choose_compliance_c(splits)
    else:
        previous = args.out / PAIR_METADATA_FILE
        grid = json.loads(previous.read_text())["recipe"]["compliance_c_grid"] if previous.is_file() else []
        c_value = args.compliance_c
    fit = splits.jailbreak["fit"]
    compliance = fit_compliance(list(fit.texts), list(fit.labels), c_value)

    calibration = splits.jailbreak["calibration"]
    cal_labels = np.array(calibration.labels)
    cal_goals = list(splits.goals["calibration"])
    cal_request = request_scores(sorted(set(cal_goals)))
    goal_score = dict(zip(sorted(set(cal_goals)), cal_request, strict=True))
    cal_compliance = np.array(compliance.score_batch([strip_ellipses(text) for text in calibration.texts]))

    def gated(request: np.ndarray) -> np.ndarray:
        return np.minimum(1.0, args.request_scale * request)

    cal_scores = gated(np.array([goal_score[goal] for goal in cal_goals])) * cal_compliance
    benign_requests, benign_replies = pair_benign(splits.benign["calibration"])
    benign_scores = gated(request_scores(benign_requests)) * np.array(
        compliance.score_batch([strip_ellipses(text) for text in benign_replies])
    )
    threshold = 0.99
    for candidate in np.arange(0.05, 0.995, 0.005):
        false_block = float((cal_scores[cal_labels == 0] >= candidate).mean())
        if false_block <= args.max_false_block and float((benign_scores >= candidate).mean()) <= args.max_benign_block:
            threshold = round(float(candidate), 3)
            break
    metadata: dict[str, object] = {
        "model": "pair mode: P(reply complies | word+char TF-IDF) x min(1, scale x P(harmful request | MiniLM))",
        "pair_threshold": threshold,
        "request_scale": args.request_scale,
        "request_head": {
            "coef": [round(float(value), 6) for value in request_model.coef_[0]],
            "intercept": float(request_model.intercept_[0]),
            "max_tokens": REQUEST_MAX_TOKENS,
            "encoder": "bundled all-MiniLM-L6-v2, frozen, mean pooling, L2-normalised",
        },
        "recipe": {
            "seed": SPLIT_SEED,
            "request_C": args.request_c,
            "request_scale": args.request_scale,
            "own_request_weight": args.own_request_weight,
            "compliance_C": c_value,
            "compliance_c_grid": grid,
            "max_false_block": args.max_false_block,
            "max_benign_block": args.max_benign_block,
            "n_fit_goals": len(fit_goals),
            "n_benign_fit": len(benign_fit),
            "n_own_requests": len(own_requests),
            "n_fit_replies": len(fit),
        },
        "calibration": {
            "recall": round(float((cal_scores[cal_labels == 1] >= threshold).mean()), 4),
            "false_block_rate": round(float((cal_scores[cal_labels == 0] >= threshold).mean()), 4),
            "benign_pair_false_block_rate": round(float((benign_scores >= threshold).mean()), 4),
            "n_benign_pairs": len(benign_scores),
            "auc": round(float(roc_auc_score(cal_labels, cal_scores)), 4),
            "compliance_auc": round(float(roc_auc_score(cal_labels, cal_compliance)), 4),
            "request_min_on_goals": round(float(cal_request.min()), 4),
        },
        "command": "python scripts/train_harm_pair.py " + " ".join(sys.argv[1:]),
        "training_seconds": round(time.time() - started),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    save_linear_model(
        compliance,
        args.out / COMPLIANCE_WEIGHTS_FILE,
        args.out / COMPLIANCE_METADATA_FILE,
        {"model": "compliance: word+char TF-IDF LR on JailbreakBench fit replies", "C": c_value},
    )
    (args.out / PAIR_METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in metadata.items() if k != "request_head"}, indent=2))


if __name__ == "__main__":
    main()
