"""Train the harm check's hidden-state probe: the engine model's own states of the reply it wrote, stacked with
pair mode's TF-IDF compliance logit (``bot.moderation.reply_probe``).

Features come from ``scripts/harm_hidden_features.py`` (the engine path the bot ships: int8 weights,
``bot.engine.hidden_states``), cached under ``--cache``. Three steps:

- ``cv``: on the fit behaviours only, 5-fold cross-validation grouped by behaviour over layers x poolings x C
  (and pair vs reply-alone context where cached; the probe chosen by CV AUC), then the stacking (probe alone,
  z-average, a 2-weight logistic regression on the out-of-fold logits) chosen by the same folds' recall at 3%.
  Writes ``cv.json`` in the cache. ``test``: the one held-out look (test behaviours, benign test pairs).
- ``ship``: fits the chosen probe on all fit behaviours, the stack on the fit out-of-fold logits, and picks the
  lowest threshold that keeps false blocks on the calibration behaviours' harmless replies within
  ``--max-false-block``, on calibration benign pairs within ``--max-benign-block`` and 0 on the benign
  regression set (paired with a neighbour as request). Writes ``bot/moderation/weights/harm_hidden_probe.json``.

- ``ship-oof`` (what ships now): the same probe fitted on fit + calibration behaviours, its threshold the lowest
  whose out-of-fold false blocks (5 folds by behaviour over both) are within ``--target-false-block`` (2%), then
  raised until calibration benign pairs and the regression set hold; a bootstrap over behaviours shows how the
  rule holds on behaviours it was not chosen on. Features from ``scripts/harm_judge_features.py --cache DIR``.

The test behaviours are never read here except by ``test``.

    python scripts/train_harm_hidden.py cv|ship|ship-oof|test [--cache /tmp/moderation_hs]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_harm_pair import fit_compliance, recall_at

from bot.engine.hidden_states import POOLINGS
from bot.evaluation.harm_data import HarmSplits, behaviour_folds, load_harm_splits, non_test_folds, pair_benign
from bot.evaluation.moderation import shared_data_dir
from bot.moderation.harm import HarmClassifier, strip_ellipses
from bot.moderation.reply_probe import PROBE_FILE, DeepHarmCheck, HiddenStateProbe, RecipeValue

# Benign pairs whose request factor is below this were not read by the model (see harm_hidden_features.py).
MIN_FACTOR = 0.3
# Request scores differ in the last digits between batch compositions: pairs this close to MIN_FACTOR may not have
# been read, so the probe reads (and thresholds start) this much above it.
READ_FROM = MIN_FACTOR + 0.02
C_GRID = (0.001, 0.003, 0.01)
FOLDS = 5
WEIGHTS = Path(__file__).resolve().parents[1] / "bot" / "moderation" / "weights"


def z_average_weights(lm_logits: np.ndarray, tf_logits: np.ndarray) -> tuple[float, float, float]:
    """Stack weights that average the two logits after z-scoring each (the shipped stacking)."""
    return (
        1.0 / float(lm_logits.std()),
        1.0 / float(tf_logits.std()),
        -float(lm_logits.mean() / lm_logits.std() + tf_logits.mean() / tf_logits.std()),
    )


def probe_from(
    recipe: dict[str, RecipeValue],
    scaler: StandardScaler,
    model: LogisticRegression,
    weights: tuple[float, float, float],
) -> HiddenStateProbe:
    """The probe as the gate loads it, from a fitted scaler and logistic regression (threshold set later)."""
    return HiddenStateProbe(
        recipe=recipe,
        mean=scaler.mean_.astype(np.float32),
        scale=scaler.scale_.astype(np.float32),
        coef=model.coef_[0].astype(np.float32),
        intercept=float(model.intercept_[0]),
        stack=weights,
        threshold=0.5,
        feature_model="SmolLM2-135M-Instruct",
    )


def features(cache: Path, name: str) -> tuple[np.ndarray, list[int], np.ndarray]:
    """[rows, layers, poolings, hidden] float32, the layers, and which rows of the source were kept."""
    path = cache / f"{name}.npz"
    if not path.is_file():  # scripts/harm_judge_features.py names its files by source and split only
        path = cache / f"{name.removesuffix('_pair_int8')}.npz"
    data = np.load(path)
    if "pair_mean" in data:  # harm_judge_features.py: the shipped framing's mean and last-token poolings
        x = np.stack([data["pair_mean"], data["pair_last"]], axis=2).astype(np.float32)
    else:
        x = data["x"].astype(np.float32)
    return x, [int(v) for v in data["layers"]], data["rows"] if "rows" in data else np.arange(len(x))


def probe_fit(x: np.ndarray, y: np.ndarray, c_value: float) -> tuple[StandardScaler, LogisticRegression]:
    scaler = StandardScaler().fit(x)
    return scaler, LogisticRegression(C=c_value, max_iter=3000, class_weight="balanced").fit(scaler.transform(x), y)


def out_of_fold(x: np.ndarray, y: np.ndarray, folds: np.ndarray, c_value: float) -> np.ndarray:
    scores = np.zeros(len(y))
    for fold in range(FOLDS):
        train, held = folds != fold, folds == fold
        scaler, model = probe_fit(x[train], y[train], c_value)
        scores[held] = model.decision_function(scaler.transform(x[held]))
    return scores


def tfidf_out_of_fold(splits: HarmSplits, folds: np.ndarray, cache: Path) -> np.ndarray:
    """Pair mode's compliance logit out of fold (C=4, as shipped), cached."""
    path = cache / "tfidf_oof.npy"
    if path.is_file():
        return np.load(path)
    fit = splits.jailbreak["fit"]
    scores = np.zeros(len(fit.labels))
    for fold in range(FOLDS):
        train, held = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
        model = fit_compliance([fit.texts[i] for i in train], [fit.labels[i] for i in train], 4.0)
        scores[held] = model.logits([strip_ellipses(fit.texts[i]) for i in held])
    np.save(path, scores)
    return scores


def stack_out_of_fold(lm: np.ndarray, tf: np.ndarray, y: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """The 2-weight stack evaluated by the same folds (fitted on four folds' out-of-fold logits)."""
    pair = np.column_stack([lm, tf])
    scores = np.zeros(len(y))
    for fold in range(FOLDS):
        train, held = folds != fold, folds == fold
        model = LogisticRegression(C=1.0, class_weight="balanced").fit(pair[train], y[train])
        scores[held] = model.decision_function(pair[held])
    return scores


def figure(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    return {"auc": round(float(roc_auc_score(y, scores)), 4), "recall_at_3pct": round(recall_at(y, scores, 0.03), 4)}


def run_cv(splits: HarmSplits, cache: Path) -> None:
    y = np.array(splits.jailbreak["fit"].labels)
    folds = np.array(behaviour_folds(splits))
    tf = tfidf_out_of_fold(splits, folds, cache)
    print(f"fit behaviours: {len(y)} replies, {int(y.sum())} harmful; TF-IDF compliance CV {figure(y, tf)}")
    rows: list[dict[str, object]] = []
    for context in ("pair", "reply"):
        path = cache / f"jailbreak_fit_{context}_int8.npz"
        if not path.is_file():
            continue
        x, layers, _ = features(cache, f"jailbreak_fit_{context}_int8")
        for li, layer in enumerate(layers):
            for pi, pooling in enumerate(POOLINGS):
                for c_value in C_GRID:
                    lm = out_of_fold(x[:, li, pi], y, folds, c_value)
                    row = {"context": context, "layer": layer, "pooling": pooling, "C": c_value, **figure(y, lm)}
                    rows.append(row)
                    print("  ", row, flush=True)
    # The probe by CV AUC (recall at 3% rests on ~13 harmless fit replies: choosing the probe by it picked layer 27
    # alone, 0.626 on calibration), then the stacking by CV recall at 3%.
    best = max(rows, key=lambda row: (float(row["auc"]), float(row["recall_at_3pct"])))  # type: ignore[arg-type]
    x, layers, _ = features(cache, f"jailbreak_fit_{best['context']}_int8")
    lm = out_of_fold(x[:, layers.index(int(best["layer"])), POOLINGS.index(best["pooling"])], y, folds, best["C"])  # type: ignore[arg-type]
    z_average = (lm - lm.mean()) / lm.std() + (tf - tf.mean()) / tf.std()
    stacks = {
        "tfidf_alone": figure(y, tf),
        "probe_alone": figure(y, lm),
        "z_average": figure(y, z_average),
        "logistic_stack": figure(y, stack_out_of_fold(lm, tf, y, folds)),
    }
    print("best probe:", best)
    for name, value in stacks.items():
        print(f"  {name:15s} {value}")
    chosen = max(("probe_alone", "z_average", "logistic_stack"), key=lambda name: stacks[name]["recall_at_3pct"])
    (cache / "cv.json").write_text(json.dumps({"best": best, "stacks": stacks, "stacking": chosen, "grid": rows}))
    print("stacking chosen:", chosen)


_ENGINE_SOURCE: object | None = None


class CachedFeatures:
    """Features read by ``scripts/harm_hidden_features.py``, served like the engine's feature source."""

    name = "SmolLM2-135M-Instruct (cached)"

    def __init__(self, vectors: dict[tuple[str, str], np.ndarray]) -> None:
        self._vectors = vectors
        self.misses = 0

    def reply_features(self, request: str, reply: str, recipe: Mapping[str, RecipeValue]) -> Sequence[float]:
        """The cached vector; one the cache lacks (a request scored just under MIN_FACTOR when it was filled,
        scores differ slightly between batch sizes) is read from the engine model now."""
        key = (request, reply)
        if key not in self._vectors:
            global _ENGINE_SOURCE
            if _ENGINE_SOURCE is None:
                from harm_hidden_features import engine_model

                from bot.engine.hidden_states import EngineReplyFeatures

                model, tokenizer = engine_model()
                _ENGINE_SOURCE = EngineReplyFeatures(model, tokenizer, "SmolLM2-135M-Instruct")  # type: ignore[arg-type]
            self.misses += 1
            return _ENGINE_SOURCE.reply_features(request, reply, recipe)
        return list(self._vectors[key])


def choose_threshold(
    harmless: np.ndarray, benign: np.ndarray, regression: np.ndarray, max_false_block: float, max_benign_block: float
) -> float:
    for candidate in np.arange(READ_FROM, 0.995, 0.005):
        if (
            float((harmless >= candidate).mean()) <= max_false_block
            and float((benign >= candidate).sum()) <= max_benign_block * max(1, len(benign))
            and not bool((regression >= candidate).any())
        ):
            return round(float(candidate), 3)
    return 0.99


def run_ship(splits: HarmSplits, cache: Path, max_false_block: float, max_benign_block: float) -> None:
    started = time.time()
    cv = json.loads((cache / "cv.json").read_text())
    best, stacking = cv["best"], cv["stacking"]
    layer, pooling, context, c_value = int(best["layer"]), str(best["pooling"]), str(best["context"]), float(best["C"])
    y = np.array(splits.jailbreak["fit"].labels)
    folds = np.array(behaviour_folds(splits))

    def columns(name: str) -> tuple[np.ndarray, np.ndarray]:
        x, layers, rows = features(cache, name)
        return x[:, layers.index(layer), POOLINGS.index(pooling)], rows  # type: ignore[arg-type]

    fit_x, _ = columns(f"jailbreak_fit_{context}_int8")
    lm_oof = out_of_fold(fit_x, y, folds, c_value)
    tf_oof = tfidf_out_of_fold(splits, folds, cache)
    scaler, model = probe_fit(fit_x, y, c_value)
    if stacking == "logistic_stack":
        stack = LogisticRegression(C=1.0, class_weight="balanced").fit(np.column_stack([lm_oof, tf_oof]), y)
        weights = (float(stack.coef_[0][0]), float(stack.coef_[0][1]), float(stack.intercept_[0]))
    elif stacking == "z_average":
        weights = z_average_weights(lm_oof, tf_oof)
    else:
        weights = (1.0, 0.0, 0.0)
    harm = HarmClassifier.load()
    recipe: dict[str, RecipeValue] = {
        "layer": layer,
        "pooling": pooling,
        "last_n": 8,
        "request_tokens": 40,
        "reply_tokens": 96,
        "with_request": context == "pair",
    }
    probe = probe_from(recipe, scaler, model, weights)

    check = DeepHarmCheck(harm, probe)

    def deep_scores(requests: list[str], replies: list[str], x: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Pair scores with the probe, its features read from the cache (only rows whose request factor reaches
        MIN_FACTOR were read: the others cannot reach any threshold tried)."""
        cached = CachedFeatures({(requests[int(row)], replies[int(row)]): x[i] for i, row in enumerate(rows)})
        return np.array(check.score_pairs(requests, replies, cached, READ_FROM))

    cal = splits.jailbreak["calibration"]
    cal_x, cal_rows = columns(f"jailbreak_calibration_{context}_int8")
    cal_y = np.array(cal.labels)
    cal_scores = deep_scores(list(splits.goals["calibration"]), list(cal.texts), cal_x, cal_rows)
    benign_requests, benign_replies = pair_benign(splits.benign["calibration"])
    benign_x, benign_rows = columns(f"benign_calibration_{context}_int8")
    benign_scores = deep_scores(benign_requests, benign_replies, benign_x, benign_rows)
    from bot.evaluation.moderation_report import regression_texts

    regression = regression_texts()
    regression_requests = [regression[(index + 1) % len(regression)] for index in range(len(regression))]
    reg_x, reg_rows = columns(f"regression_calibration_{context}_int8")
    regression_scores = deep_scores(regression_requests, regression, reg_x, reg_rows)
    threshold = choose_threshold(
        cal_scores[cal_y == 0], benign_scores, regression_scores, max_false_block, max_benign_block
    )
    shipped = np.array(harm.score_pairs(list(splits.goals["calibration"]), list(cal.texts)))
    assert harm.pair is not None
    report = {
        "threshold": threshold,
        "recipe": {
            **recipe,
            "C": c_value,
            "stacking": stacking,
            "max_false_block": max_false_block,
            "max_benign_block": max_benign_block,
            "n_fit_replies": len(y),
            "features": "engine path, int8 weights (bot.engine.hidden_states)",
        },
        "cv_fit_behaviours": cv["stacks"],
        "calibration": {
            "recall": round(float((cal_scores[cal_y == 1] >= threshold).mean()), 4),
            "false_block_rate": round(float((cal_scores[cal_y == 0] >= threshold).mean()), 4),
            "auc": round(float(roc_auc_score(cal_y, cal_scores)), 4),
            "benign_pair_false_block_rate": round(float((benign_scores >= threshold).mean()), 4),
            "n_benign_pairs": len(benign_scores),
            "n_benign_pairs_read_by_the_probe": len(benign_rows),
            "regression_blocked": int((regression_scores >= threshold).sum()),
            "shipped_pair_mode": {
                "recall": round(float((shipped[cal_y == 1] >= harm.pair.threshold).mean()), 4),
                "false_block_rate": round(float((shipped[cal_y == 0] >= harm.pair.threshold).mean()), 4),
                "auc": round(float(roc_auc_score(cal_y, shipped)), 4),
            },
        },
        "command": "python scripts/train_harm_hidden.py " + " ".join(sys.argv[1:]),
        "training_seconds": round(time.time() - started),
    }
    probe = probe.with_threshold(threshold)
    probe.save(WEIGHTS / PROBE_FILE, report)
    print(json.dumps({k: v for k, v in report.items() if k != "cv_fit_behaviours"}, indent=1))


def choose_oof_threshold(harmless: np.ndarray, target: float) -> float:
    """The lowest threshold whose out-of-fold false blocks on harmless replies are within ``target``."""
    for candidate in np.arange(READ_FROM, 0.995, 0.005):
        if float((harmless >= candidate).mean()) <= target:
            return round(float(candidate), 3)
    return 0.99


def behaviour_bootstrap(
    scores: np.ndarray, y: np.ndarray, behaviours: Sequence[str], target: float, rounds: int = 1000
) -> dict[str, list[float] | float]:
    """How a threshold chosen this way holds on behaviours it was not chosen on: resample behaviours with
    replacement, choose on the sample, measure on the behaviours left out (5th / 50th / 95th percentiles)."""
    names = sorted(set(behaviours))
    rows_of = {name: np.flatnonzero(np.array(behaviours) == name) for name in names}
    rng = np.random.default_rng(13)
    false_blocks, recalls, thresholds = [], [], []
    for _ in range(rounds):
        drawn = rng.choice(len(names), len(names), replace=True)
        inside = np.concatenate([rows_of[names[i]] for i in drawn])
        outside = np.concatenate([rows_of[names[i]] for i in range(len(names)) if i not in set(drawn.tolist())])
        threshold = choose_oof_threshold(scores[inside][y[inside] == 0], target)
        thresholds.append(threshold)
        false_blocks.append(float((scores[outside][y[outside] == 0] >= threshold).mean()))
        recalls.append(float((scores[outside][y[outside] == 1] >= threshold).mean()))

    def spread(values: list[float]) -> list[float]:
        return [round(float(v), 4) for v in np.percentile(values, [5, 50, 95])]

    return {
        "out_of_bag_false_block_5_50_95": spread(false_blocks),
        "out_of_bag_recall_5_50_95": spread(recalls),
        "threshold_5_50_95": spread(thresholds),
        "p_false_block_over_3pct": round(float(np.mean(np.array(false_blocks) > 0.03)), 3),
    }


def run_ship_oof(splits: HarmSplits, cache: Path, target: float, max_benign_block: float, c_value: float) -> None:
    """The probe fitted on fit + calibration behaviours, its threshold chosen on their out-of-fold scores.

    Layer 18 mean pooling over (request, reply) and the z-average with TF-IDF stay as shipped (grouped CV over
    fit + calibration behaviours found nothing better; see the changelog). Features: harm_judge_features.py."""
    started = time.time()
    layer, pooling = 18, "mean"
    fit, cal = splits.jailbreak["fit"], splits.jailbreak["calibration"]
    texts = list(fit.texts) + list(cal.texts)
    requests = list(splits.goals["fit"]) + list(splits.goals["calibration"])
    y = np.array(list(fit.labels) + list(cal.labels))
    fold_list, behaviours = non_test_folds(splits)
    folds = np.array(fold_list)

    def columns(name: str) -> tuple[np.ndarray, np.ndarray]:
        x, layers, rows = features(cache, name)
        return x[:, layers.index(layer), POOLINGS.index(pooling)], rows  # type: ignore[arg-type]

    x = np.concatenate([columns("jailbreak_fit")[0], columns("jailbreak_calibration")[0]])
    lm_oof = out_of_fold(x, y, folds, c_value)
    tf_oof = np.zeros(len(y))
    for fold in range(FOLDS):
        train, held = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
        model_tf = fit_compliance([texts[i] for i in train], [int(y[i]) for i in train], 4.0)
        tf_oof[held] = model_tf.logits([strip_ellipses(texts[i]) for i in held])
    weights = z_average_weights(lm_oof, tf_oof)
    harm = HarmClassifier.load()
    assert harm.pair is not None
    factors = np.minimum(1.0, harm.pair.request_scale * np.array(harm.pair.request.score_batch(requests)))
    judged = np.array([harm.judges(text) for text in texts])
    z = weights[0] * lm_oof + weights[1] * tf_oof + weights[2]
    oof_scores = np.where(judged, factors / (1.0 + np.exp(-z)), 0.0)
    scaler, model = probe_fit(x, y, c_value)
    recipe: dict[str, RecipeValue] = {
        "layer": layer,
        "pooling": pooling,
        "last_n": 8,
        "request_tokens": 40,
        "reply_tokens": 96,
        "with_request": True,
    }
    probe = probe_from(recipe, scaler, model, weights)
    check = DeepHarmCheck(harm, probe)

    def deep_scores(pair_requests: list[str], replies: list[str], name: str) -> np.ndarray:
        values, rows = columns(name)
        cached = CachedFeatures({(pair_requests[int(r)], replies[int(r)]): values[i] for i, r in enumerate(rows)})
        return np.array(check.score_pairs(pair_requests, replies, cached, READ_FROM))

    benign_requests, benign_replies = pair_benign(splits.benign["calibration"])
    benign_scores = deep_scores(benign_requests, benign_replies, "benign_calibration")
    from bot.evaluation.moderation_report import regression_texts

    regression = regression_texts()
    regression_requests = [regression[(index + 1) % len(regression)] for index in range(len(regression))]
    regression_scores = deep_scores(regression_requests, regression, "regression")
    threshold = choose_oof_threshold(oof_scores[y == 0], target)
    while threshold < 0.99 and (
        float((benign_scores >= threshold).sum()) > max_benign_block * max(1, len(benign_scores))
        or bool((regression_scores >= threshold).any())
    ):
        threshold = round(threshold + 0.005, 3)
    cal_rows = np.arange(len(fit.labels), len(y))

    def at(rows: np.ndarray) -> dict[str, float]:
        scores, labels = oof_scores[rows], y[rows]
        return {
            "recall": round(float((scores[labels == 1] >= threshold).mean()), 4),
            "false_block_rate": round(float((scores[labels == 0] >= threshold).mean()), 4),
            "auc": round(float(roc_auc_score(labels, scores)), 4),
            "recall_at_3pct": round(recall_at(labels, scores, 0.03), 4),
        }

    report = {
        "threshold": threshold,
        "recipe": {
            **recipe,
            "C": c_value,
            "stacking": "z_average",
            "fitted_on": "fit + calibration behaviours",
            "threshold_rule": f"out-of-fold false blocks <= {target} of harmless fit + calibration replies",
            "max_benign_block": max_benign_block,
            "n_fit_replies": len(y),
            "features": "engine path, int8 weights (bot.engine.hidden_states), scripts/harm_judge_features.py",
        },
        "cv_fit_and_calibration_behaviours": {
            "folds": FOLDS,
            "n_behaviours": len(set(behaviours)),
            "n_harmless": int((y == 0).sum()),
            "all": at(np.arange(len(y))),
            "calibration_rows": at(cal_rows),
            "bootstrap_over_behaviours": behaviour_bootstrap(oof_scores, y, behaviours, target),
        },
        "calibration_benign": {
            "benign_pair_false_block_rate": round(float((benign_scores >= threshold).mean()), 4),
            "n_benign_pairs": len(benign_scores),
            "regression_blocked": int((regression_scores >= threshold).sum()),
        },
        "command": "python scripts/train_harm_hidden.py " + " ".join(sys.argv[1:]),
        "training_seconds": round(time.time() - started),
    }
    probe.with_threshold(threshold).save(WEIGHTS / PROBE_FILE, report)
    print(json.dumps(report, indent=1))


def run_test(splits: HarmSplits, cache: Path) -> None:
    """The held-out look: the shipped probe on the test behaviours and the benign test pairs (cached features)."""
    harm = HarmClassifier.load()
    check = DeepHarmCheck.load(harm)
    recipe = check.probe.recipe
    layer, pooling = int(recipe["layer"]), str(recipe["pooling"])

    def columns(name: str) -> tuple[np.ndarray, np.ndarray]:
        x, layers, rows = features(cache, name)
        return x[:, layers.index(layer), POOLINGS.index(pooling)], rows  # type: ignore[arg-type]

    def deep_scores(requests: list[str], replies: list[str], name: str) -> np.ndarray:
        x, rows = columns(name)
        cached = CachedFeatures({(requests[int(row)], replies[int(row)]): x[i] for i, row in enumerate(rows)})
        return np.array(check.score_pairs(requests, replies, cached, max(READ_FROM, check.threshold)))

    test = splits.jailbreak["test"]
    y = np.array(test.labels)
    scores = deep_scores(list(splits.goals["test"]), list(test.texts), "jailbreak_test_pair_int8")
    shipped = np.array(harm.score_pairs(list(splits.goals["test"]), list(test.texts)))
    assert harm.pair is not None
    all_requests, all_replies = pair_benign(splits.benign["test"])
    benign_scores = deep_scores(all_requests, all_replies, "benign_test_pair_int8")
    blocked = int((benign_scores >= check.threshold).sum())
    benign: dict[str, float | int] = {
        "false_block_rate": round(blocked / max(1, len(benign_scores)), 4),
        "blocked": blocked,
        "n": len(benign_scores),
    }
    report = {
        "threshold": check.threshold,
        "lm_stage": {
            "recall": round(float((scores[y == 1] >= check.threshold).mean()), 4),
            "false_block_rate": round(float((scores[y == 0] >= check.threshold).mean()), 4),
            "auc": round(float(roc_auc_score(y, scores)), 4),
            "n_harmful": int(y.sum()),
            "n_harmless": int((y == 0).sum()),
        },
        "shipped_pair_mode": {
            "recall": round(float((shipped[y == 1] >= harm.pair.threshold).mean()), 4),
            "false_block_rate": round(float((shipped[y == 0] >= harm.pair.threshold).mean()), 4),
            "auc": round(float(roc_auc_score(y, shipped)), 4),
        },
        "benign_test_pairs": benign,
    }
    print(json.dumps(report, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=("cv", "ship", "ship-oof", "test"))
    parser.add_argument("--data", type=Path, default=shared_data_dir())
    parser.add_argument("--cache", type=Path, default=Path("/tmp/moderation_hs"))
    parser.add_argument("--max-false-block", type=float, default=0.03)
    parser.add_argument("--max-benign-block", type=float, default=0.005)
    parser.add_argument("--target-false-block", type=float, default=0.02, help="ship-oof: out-of-fold target")
    parser.add_argument("--c", type=float, default=0.01, help="ship-oof: the probe's C (grouped CV choice)")
    args = parser.parse_args()
    splits = load_harm_splits(args.data)
    if args.step == "cv":
        run_cv(splits, args.cache)
    elif args.step == "ship-oof":
        run_ship_oof(splits, args.cache, args.target_false_block, args.max_benign_block, args.c)
    elif args.step == "test":
        run_test(splits, args.cache)
    else:
        run_ship(splits, args.cache, args.max_false_block, args.max_benign_block)


if __name__ == "__main__":
    main()
