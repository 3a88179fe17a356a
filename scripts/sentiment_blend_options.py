"""Blend options for the sentiment model, each measured by the same CV within tune as the shipped blend.

Reads var/sentiment_tune_components.npz (`scripts/sentiment_blend_components.py`: the three models' tune
log-probabilities, models fitted on fit). For each fold seed, tune is split in 5 folds stratified by gold language
(the fold assignment of `train_sentiment.cross_validated_blend`, seeds SEED+0.. ); every option makes all its
choices (blend pairs, biases) on the other 4 folds and predicts the held-back fold. Prints, per option, the
average macro-F1 over the 8 languages (mean +- sd over seeds), English and Hindi, and the paired gain over the
shipped option. No held-out row is read.

    python scripts/sentiment_blend_options.py [--seeds 10]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

CACHE = Path(__file__).resolve().parents[1] / "var" / "sentiment_tune_components.npz"
LANGUAGE_ORDER = ("ar", "en", "fr", "de", "hi", "it", "pt", "es")
SEED = 18
FOLDS = 5
STEPS = 10
FULL_GRID = tuple((m / STEPS, u / STEPS) for m in range(STEPS + 1) for u in range(STEPS + 1 - m))
NO_USE_GRID = tuple(pair for pair in FULL_GRID if pair[1] == 0)
FINE_GRID = tuple((m / 20, u / 20) for m in range(21) for u in range(21 - m))
FINE_NO_USE_GRID = tuple(pair for pair in FINE_GRID if pair[1] == 0)
BIAS_GRID = tuple(round(b, 2) for b in np.arange(-0.6, 0.61, 0.1))


@dataclass(frozen=True)
class Components:
    """Tune log-probabilities of each model, gold labels, gold languages (indices) and the language read."""

    ngram: NDArray[np.float32]
    minilm: NDArray[np.float32]
    use: NDArray[np.float32]
    gold: NDArray[np.int64]
    language: NDArray[np.int64]
    read: NDArray[np.str_]

    @classmethod
    def load(cls) -> Components:
        arrays = np.load(CACHE)
        index = {code: i for i, code in enumerate(LANGUAGE_ORDER)}
        return cls(
            arrays["ngram"],
            arrays["minilm"],
            arrays["use"],
            arrays["gold"].astype(np.int64),
            np.asarray([index[str(code)] for code in arrays["gold_languages"]]),
            arrays["read_languages"],
        )

    def blended(self, pair: tuple[float, float]) -> NDArray[np.float32]:
        return (1 - sum(pair)) * self.ngram + pair[0] * self.minilm + pair[1] * self.use


def per_language_f1(gold: NDArray[np.int64], predicted: NDArray[np.int64], language: NDArray[np.int64]) -> NDArray:
    """Macro-F1 of each gold language (as bot.evaluation.sentiment.macro_f1: an absent class counts 0)."""
    counts = np.bincount(language * 9 + gold * 3 + predicted, minlength=len(LANGUAGE_ORDER) * 9)
    confusion = counts.reshape(len(LANGUAGE_ORDER), 3, 3).astype(np.float64)
    true_positive = np.einsum("lcc->lc", confusion)
    denominator = confusion.sum(2) + confusion.sum(1)
    f1 = np.divide(2 * true_positive, denominator, out=np.zeros_like(true_positive), where=denominator > 0)
    return f1.mean(1)


def groups_three(read: NDArray[np.str_]) -> list[NDArray[np.bool_]]:
    return [read == "en", read == "hi", (read != "en") & (read != "hi")]


def groups_per_language(read: NDArray[np.str_]) -> list[NDArray[np.bool_]]:
    known = np.isin(read, LANGUAGE_ORDER)
    return [read == code for code in LANGUAGE_ORDER] + [~known]


@dataclass(frozen=True)
class BlendOption:
    """Pairs per group of rows (by language read), each from its own grid; optional per-group class biases."""

    groups: Callable[[NDArray[np.str_]], list[NDArray[np.bool_]]]
    grids: Callable[[int], tuple[tuple[float, float], ...]]
    bias_groups: tuple[int, ...] = ()

    def predict(self, data: Components, rows: NDArray[np.bool_], cached: dict) -> NDArray[np.int64]:
        groups = self.groups(data.read)
        pairs = self.choose_pairs(data, rows, groups, cached)
        logp = np.zeros_like(data.ngram)
        for group_rows, pair in zip(groups, pairs, strict=True):
            logp[group_rows] = cached["logp"][pair][group_rows]
        if self.bias_groups:
            logp = logp + self.choose_biases(data, rows, groups, logp)
        predicted: NDArray[np.int64] = logp.argmax(1)
        return predicted

    def choose_pairs(self, data: Components, rows: NDArray[np.bool_], groups: list, cached: dict) -> list:
        gold, language = data.gold[rows], data.language[rows]

        def score(pairs: list) -> float:
            chosen = np.zeros(len(data.gold), dtype=np.int64)
            for group_rows, pair in zip(groups, pairs, strict=True):
                chosen[group_rows] = cached["predicted"][pair][group_rows]
            return float(per_language_f1(gold, chosen[rows], language).mean())

        pairs = [(0.0, 0.0)] * len(groups)
        best = score(pairs)
        changed = True
        while changed:
            changed = False
            for group in range(len(groups)):
                for pair in self.grids(group):
                    trial = list(pairs)
                    trial[group] = pair
                    trial_score = score(trial)
                    if trial_score > best + 1e-9:
                        best, pairs, changed = trial_score, trial, True
        return pairs

    def choose_biases(self, data: Components, rows: NDArray[np.bool_], groups: list, logp: NDArray) -> NDArray:
        gold, language = data.gold[rows], data.language[rows]
        biases = np.zeros((len(groups), 3), dtype=np.float32)

        def score(trial: NDArray) -> float:
            shift = np.zeros_like(logp)
            for group_rows, bias in zip(groups, trial, strict=True):
                shift[group_rows] = bias
            return float(per_language_f1(gold, (logp + shift)[rows].argmax(1), language).mean())

        best = score(biases)
        changed = True
        while changed:
            changed = False
            for group in self.bias_groups:
                for negative in BIAS_GRID:
                    for neutral in BIAS_GRID:
                        trial = biases.copy()
                        trial[group] = (negative, neutral, 0.0)
                        trial_score = score(trial)
                        if trial_score > best + 1e-9:
                            best, biases, changed = trial_score, trial, True
        shift = np.zeros_like(logp)
        for group_rows, bias in zip(groups, biases, strict=True):
            shift[group_rows] = bias
        return shift


OPTIONS: dict[str, BlendOption] = {
    "shipped: 3 groups (en, hi, others)": BlendOption(groups_three, lambda group: FULL_GRID),
    "3 groups, no USE for English": BlendOption(groups_three, lambda group: NO_USE_GRID if group == 0 else FULL_GRID),
    "a pair per language read": BlendOption(groups_per_language, lambda group: FULL_GRID),
    "a pair per language read, no USE for English": BlendOption(
        groups_per_language, lambda group: NO_USE_GRID if group == 1 else FULL_GRID
    ),
    "3 groups + class bias per group": BlendOption(groups_three, lambda group: FULL_GRID, (0, 1, 2)),
    "3 groups + class bias for Hindi only": BlendOption(groups_three, lambda group: FULL_GRID, (1,)),
    "3 groups, no USE for English or Hindi": BlendOption(
        groups_three, lambda group: NO_USE_GRID if group in (0, 1) else FULL_GRID
    ),
    "3 groups, no USE for English, steps of 0.05": BlendOption(
        groups_three, lambda group: FINE_NO_USE_GRID if group == 0 else FINE_GRID
    ),
    "3 groups, no USE for English, + Hindi bias": BlendOption(
        groups_three, lambda group: NO_USE_GRID if group == 0 else FULL_GRID, (1,)
    ),
}


def folds_for(data: Components, seed: int) -> NDArray[np.int64]:
    """The fold assignment of train_sentiment.cross_validated_blend for this seed."""
    rng = np.random.default_rng(SEED + seed)
    folds = np.zeros(len(data.gold), dtype=np.int64)
    for index in range(len(LANGUAGE_ORDER)):
        members = np.flatnonzero(data.language == index)
        folds[rng.permutation(members)] = np.arange(len(members)) % FOLDS
    return folds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--only", default="", help="only options whose name contains this")
    args = parser.parse_args()
    data = Components.load()
    logp = {pair: data.blended(pair) for pair in (*FULL_GRID, *FINE_GRID)}
    cached = {"logp": logp, "predicted": {pair: value.argmax(1) for pair, value in logp.items()}}
    results: dict[str, NDArray] = {}
    for name, option in OPTIONS.items():
        if args.only and args.only not in name and not name.startswith("shipped"):
            continue
        per_seed = []
        for seed in range(args.seeds):
            folds = folds_for(data, seed)
            out_of_fold = np.zeros(len(data.gold), dtype=np.int64)
            for fold in range(FOLDS):
                predicted = option.predict(data, folds != fold, cached)
                out_of_fold[folds == fold] = predicted[folds == fold]
            per_seed.append(per_language_f1(data.gold, out_of_fold, data.language))
        results[name] = np.asarray(per_seed)
        figures = results[name]
        average = figures.mean(1)
        line = (
            f"{name}: avg {average.mean():.4f} +- {average.std():.4f}, en {figures[:, 1].mean():.4f}, "
            f"hi {figures[:, 4].mean():.4f}"
        )
        shipped = next(iter(results.values()))
        if results[name] is not shipped:
            gain = average - shipped.mean(1)
            english_gain = figures[:, 1] - shipped[:, 1]
            line += (
                f"; paired gain avg {gain.mean():+.4f} +- {gain.std():.4f} (min {gain.min():+.4f}), "
                f"en {english_gain.mean():+.4f} +- {english_gain.std():.4f}"
            )
        print(line, flush=True)
        print(
            "   per language: " + " ".join(f"{c}={v:.3f}" for c, v in zip(LANGUAGE_ORDER, figures.mean(0), strict=True))
        )


if __name__ == "__main__":
    main()
