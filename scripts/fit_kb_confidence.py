"""Fit the knowledge base's confidence weights (bot/kb/answering.py) on the calibration split of eval/kb.

For every calibration question (never a test one) the shipped answerer computes its signals (sentence
similarity, IDF-weighted coverage, rarity of the rarest missing word and, with ``--judge``, the answerability
judge's logit) and its extractive answer, without the language model. A logistic regression (L2, C=10) learns
in scope vs out of scope from the signals; the operating point is the threshold with the best answer accuracy +
decline recall among those that keep accuracy at ``--min-accuracy`` (see `operating_point`); the bias is then
shifted so that this point falls on the shipped ``answer_threshold``. 5-fold cross-validation on the same split
(fit and threshold chosen on four folds, applied to the fifth) tells how much of it carries over to unseen
questions.

    python scripts/fit_kb_confidence.py [--judge] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.evaluation.kb import DEFAULT_QUESTIONS, answer_is_correct, load_questions
from bot.kb.answerability import AnswerabilityJudge
from bot.kb.answering import ConfidenceSignals, KbAnswerer, KbSettings, RankedSentence
from bot.kb.knowledge_base import KbHit, KnowledgeBase
from bot.prompts import PromptLibrary
from bot.store import Store

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_THRESHOLD = KbSettings().answer_threshold


@dataclass(frozen=True)
class Row:
    """One calibration question: its signals (None on the FAQ path), scope and whether the answer was right."""

    features: tuple[float, ...] | None
    in_scope: bool
    correct: bool


class _RecordingAnswerer(KbAnswerer):
    last: ConfidenceSignals | None = None

    def _signals(
        self,
        question: str,
        ranked: Sequence[RankedSentence],
        hits: Sequence[KbHit],
        query_vector: np.ndarray | None = None,
    ) -> ConfidenceSignals | None:
        signals = super()._signals(question, ranked, hits, query_vector)
        self.last = signals
        return signals


def _features(signals: ConfidenceSignals) -> tuple[float, ...]:
    values = (signals.similarity, signals.coverage, signals.missing_rarity)
    return values if signals.judge_logit is None else (*values, signals.judge_logit)


async def collect(judge: AnswerabilityJudge | None, questions_path: Path) -> list[Row]:
    questions = [q for q in load_questions(questions_path) if q.split == "calibration"]
    with tempfile.TemporaryDirectory(prefix="socialbot-kb-fit-") as folder:
        store = Store.open(Path(folder) / "kb.db")
        try:
            kb = KnowledgeBase(store)
            kb.add_paths([questions_path.parent / "shop"])
            prompts = PromptLibrary([ROOT / "prompts"])
            answerer = _RecordingAnswerer(kb, None, prompts, replace(KbSettings(), answer_threshold=0.0), judge=judge)
            rows = []
            for question in questions:
                answerer.last = None
                answer = await answerer.answer(question.question, use_model=False)
                features = _features(answerer.last) if answer.mode != "faq" and answerer.last else None
                rows.append(Row(features, question.in_scope, answer_is_correct(question, answer)))
        finally:
            store.close()
    return rows


def operating_point(rows: list[Row], scores: np.ndarray, min_accuracy: float) -> tuple[float, float, float]:
    """(threshold, decline recall, accuracy): among thresholds that keep answer accuracy at ``min_accuracy`` or
    more, the one with the highest accuracy + decline recall (the lowest such threshold on ties).

    Both figures count: maximising recall alone under the accuracy floor sacrifices several answered questions
    for the last out-of-scope one whenever the score separates them poorly at the end of the range.
    """
    in_scope = sum(row.in_scope for row in rows)
    out_scope = len(rows) - in_scope
    best = (-math.inf, 0.0, 0.0)
    for threshold in sorted({-math.inf, *scores[np.isfinite(scores)].tolist()}):
        answered = scores >= threshold
        correct = sum(1 for row, a in zip(rows, answered, strict=True) if a and row.in_scope and row.correct)
        declined = sum(1 for row, a in zip(rows, answered, strict=True) if not a and not row.in_scope)
        accuracy, recall = correct / in_scope, declined / out_scope
        if accuracy >= min_accuracy and accuracy + recall > best[1] + best[2] + 1e-9:
            best = (threshold, recall, accuracy)
    return best


def fit(rows: list[Row], min_accuracy: float) -> tuple[np.ndarray, float, float]:
    """LR weights (with bias), and the logit threshold of the operating point."""
    scored = [row for row in rows if row.features is not None]
    x = np.array([row.features for row in scored])
    y = np.array([row.in_scope for row in scored])
    model = LogisticRegression(C=10.0, max_iter=5000).fit(x, y)
    weights = np.append(model.coef_[0], model.intercept_[0])
    threshold, _, _ = operating_point(rows, logits(rows, weights), min_accuracy)
    return weights, threshold, model.intercept_[0]


def logits(rows: list[Row], weights: np.ndarray) -> np.ndarray:
    """The fitted score of each row; FAQ-path rows are always answered (+inf)."""
    return np.array(
        [math.inf if row.features is None else float(np.dot(weights[:-1], row.features) + weights[-1]) for row in rows]
    )


def cross_validate(rows: list[Row], min_accuracy: float) -> dict[str, float]:
    labels = np.array([row.in_scope for row in rows])
    answered = np.zeros(len(rows), dtype=bool)
    for train, test in StratifiedKFold(5, shuffle=True, random_state=13).split(labels, labels):
        weights, threshold, _ = fit([rows[i] for i in train], min_accuracy)
        answered[test] = logits([rows[i] for i in test], weights) >= threshold
    in_scope = labels.sum()
    return {
        "decline_recall": round(float(((~answered) & ~labels).sum() / (len(rows) - in_scope)), 4),
        "answer_accuracy": round(
            sum(1 for row, a in zip(rows, answered, strict=True) if a and row.in_scope and row.correct) / in_scope, 4
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--judge", action="store_true", help="include the answerability judge's logit")
    parser.add_argument("--judge-dir", type=Path, default=None, help="judge weights (default: the shipped ones)")
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--min-accuracy", type=float, default=0.85)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    judge = AnswerabilityJudge.load(args.judge_dir) if args.judge or args.judge_dir else None
    rows = asyncio.run(collect(judge, args.questions))
    weights, threshold, _ = fit(rows, args.min_accuracy)
    _, recall, accuracy = operating_point(rows, logits(rows, weights), args.min_accuracy)
    # Shift the bias so that the chosen point is where the shipped threshold cuts.
    shipped = math.log(SHIPPED_THRESHOLD / (1 - SHIPPED_THRESHOLD))
    weights[-1] += shipped - threshold
    result = {
        "weights": [round(float(w), 2) for w in weights],
        "features": ["similarity", "coverage", "missing_rarity", *(["judge_logit"] if judge else [])],
        "calibration": {"decline_recall": round(recall, 4), "answer_accuracy": round(accuracy, 4), "n": len(rows)},
        "cross_validation": cross_validate(rows, args.min_accuracy),
    }
    print(json.dumps(result, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
