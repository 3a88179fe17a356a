"""A logistic head on the answerability judge's frozen pooled state, as a decline signal (negative result).

Pairs: each training question of scripts/fit_kb_decline.py (tuning intents, unknown and unused intents,
CLINC150 out-of-scope; seeded) with its closest tuning document by dense similarity; positive when that document
answers it. Out-of-fold scores with whole intents left out (the decline fit's five folds), AUC per set against
the judge's own logit on the same pairs. Held-out intents are never read.

    python scripts/kb_judge_state_probe.py
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fit_kb_decline as fit

from bot.embeddings import shared_encoder
from bot.evaluation.kb_intents import load_benchmark
from bot.kb.answerability import AnswerabilityJudge, passage_text


def main() -> None:
    judge, encoder = AnswerabilityJudge.load(), shared_encoder()
    rng = random.Random(fit.SEED)
    states, logits, labels, groups, sets = [], [], [], [], []
    for name in fit.BENCHMARK_SETS:
        benchmark = load_benchmark(name)
        intents = fit.fit_documents(benchmark, "tuning")
        documents = {
            intent: passage_text(
                benchmark.documents[intent].title,
                f"{benchmark.documents[intent].answer} {benchmark.documents[intent].text}",
            )
            for intent in intents
        }
        questions = fit.benchmark_questions(benchmark, rng)
        closest = (encoder.encode([q.text for q in questions]) @ encoder.encode(list(documents.values())).T).argmax(1)
        for question, index in zip(questions, closest, strict=True):
            intent = intents[int(index)]
            batch = judge.tokenizer([(question.text, documents[intent])])
            pooled = judge.encoder(batch.input_ids, batch.attention_mask, batch.token_type_ids)
            states.append(np.asarray(pooled)[0])
            logits.append(float(judge.head(pooled)[0]))
            labels.append(f"{intent}.md" in question.documents)
            groups.append(question.group)
            sets.append(name)
        print(f"{name}: {len(questions)} pairs", flush=True)
    x, judged, y, of_set = np.array(states), np.array(logits), np.array(labels), np.array(sets)
    shuffled = sorted(set(groups))
    random.Random(fit.SEED).shuffle(shuffled)
    fold_of = {group: index % 5 for index, group in enumerate(shuffled)}
    fold = np.array([fold_of[group] for group in groups])
    for c in (0.01, 0.1, 1.0):
        scores = np.zeros(len(y))
        for k in range(5):
            model = LogisticRegression(C=c, max_iter=5000).fit(x[fold != k], y[fold != k])
            scores[fold == k] = model.decision_function(x[fold == k])
        for name in fit.BENCHMARK_SETS:
            picked = of_set == name
            probe, own = scores[picked], judged[picked]
            both = (probe - probe.mean()) / probe.std() + (own - own.mean()) / own.std()
            print(
                f"C={c} {name}: probe AUC {roc_auc_score(y[picked], probe):.3f}, judge logit AUC "
                f"{roc_auc_score(y[picked], own):.3f}, both (z-sum) {roc_auc_score(y[picked], both):.3f} "
                f"({picked.sum()} pairs, {y[picked].sum()} answerable)",
                flush=True,
            )


if __name__ == "__main__":
    main()
