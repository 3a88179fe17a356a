"""Would retraining the answerability judge on the benchmark TUNING pairs help on intents it has not seen?

The pairs of scripts/make_benchmark_pairs.py (bot/kb/data/answerability_benchmarks.jsonl: CLINC150 / Banking77
tuning intents only) are grouped by intent (each pair's query is looked up in the training files; out-of-scope
queries form two groups) and dealt into ``--folds`` folds. For each fold the judge is trained as
scripts/train_answerability.py trains it (same recipe), on the made-up businesses' pairs plus the benchmark pairs
of the other folds, and scores the fold's pairs: whole intents it never saw, as a held-out intent would be. The
shipped judge (made-up businesses only) scores the same pairs. Printed: AUC of answers vs not per set, and of
answerable vs near miss (the same query against its neighbouring document) per set. Nothing here reads a held-out
split or a test file.

    python scripts/cv_kb_judge_pairs.py [--folds 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import train_answerability as training

from bot.evaluation.kb_intents import default_data_dir
from bot.kb.answerability import AnswerabilityJudge, PairTokenizer

BENCHMARK_PAIRS = training.DATA_DIR / "answerability_benchmarks.jsonl"


def intent_of_queries() -> dict[str, str]:
    """Training query -> its intent, for both sets (the pairs were drawn from these files only)."""
    data = default_data_dir()
    full = json.loads((data / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    found = {f"clinc150:{query}": f"clinc150:{intent}" for query, intent in full["train"]}
    found |= {f"clinc150:{query}": f"clinc150:oos{index % 2}" for index, (query, _) in enumerate(full["oos_train"])}
    with (data / "banking77" / "train.csv").open(encoding="utf-8", newline="") as handle:
        found |= {f"banking77:{row['text']}": f"banking77:{row['category']}" for row in csv.DictReader(handle)}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    # The shipped judge's recipe: train_answerability.py's defaults.
    sys_argv, sys.argv = sys.argv, [sys.argv[0], "--threads", str(args.threads), "--seed", str(args.seed)]
    recipe = training.parse_args()
    sys.argv = sys_argv
    made_up = training.load_pairs(training.DATA_DIR / "answerability_train.jsonl")
    rows = [json.loads(line) for line in BENCHMARK_PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]
    benchmark = training.load_pairs(BENCHMARK_PAIRS)
    intents = intent_of_queries()
    groups = [intents[f"{row['domain']}:{row['question']}"] for row in rows]
    kinds = [str(row["kind"]) for row in rows]
    order = sorted(set(groups))
    random.Random(args.seed).shuffle(order)
    fold_of = {group: index % args.folds for index, group in enumerate(order)}
    tokenizer = PairTokenizer(max_tokens=recipe.max_tokens)
    shipped = AnswerabilityJudge.load(None)
    shipped_scores = np.array([shipped.logits(q, [p])[0] for q, p, _, _ in benchmark])
    retrained_scores = np.zeros(len(benchmark))
    started = time.time()
    for k in range(args.folds):
        train = made_up + [pair for pair, group in zip(benchmark, groups, strict=True) if fold_of[group] != k]
        test = [i for i, group in enumerate(groups) if fold_of[group] == k]
        trainer = training.Trainer(recipe, tokenizer, train)
        trainer.train(recipe.epochs)
        retrained_scores[test] = trainer.predict([(benchmark[i][0], benchmark[i][1]) for i in test])
        print(f"fold {k + 1}/{args.folds}: {len(train)} training pairs ({time.time() - started:.0f} s)", flush=True)
    labels = np.array([label for _, _, label, _ in benchmark])
    for domain in ("clinc150", "banking77"):
        picked = np.array([row["domain"] == domain for row in rows])
        near = picked & np.array([kind in ("answerable", "near_miss") for kind in kinds])
        for name, scores in (("shipped judge", shipped_scores), ("retrained (unseen intents)", retrained_scores)):
            print(
                f"{domain:10s} {name:27s} AUC all pairs {training.auc(labels[picked], scores[picked]):.3f} | "
                f"answerable vs near miss {training.auc(labels[near], scores[near]):.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
