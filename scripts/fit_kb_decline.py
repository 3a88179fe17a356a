"""Fit the knowledge base's decline model (bot/kb/weights/kb_decline.json) on third-party TUNING intents only.

Questions: CLINC150 and Banking77 training queries (read from ../shared/data; never their test files) of the
tuning split's documented intents (to answer), of its unknown intents and of Banking77 intents that no split
uses (to decline: near misses among close banking intents), and CLINC150's out-of-scope training queries; plus
the calibration questions of eval/kb (a shop with longer, multi-section documents). Held-out intents (of the
"heldout", "fresh" and "fresh2" splits) are never read, and the queries the tuning evaluation uses or the judge
was trained on are left out.

The knowledge base the signals are computed against (``--kb``): "tuning" (the default, the shipped recipe) holds
only the tuning split's documents, so every negative is a question next to a document that does not answer it;
"deployment" holds every document the evaluation's knowledge bases hold except the last held-out split's
("fresh2", kept unseen), as a deployed knowledge base holds documents whose questions were never in a fit.

For every question the shipped answerer (with the answerability judge, without the language model) computes
its `ConfidenceSignals` and its answer; a question counts as answerable when the answer cites its document. A
logistic regression (L2, C=1) learns answerable vs not from the signals; 5-fold cross-validation grouped by
intent (out-of-scope queries in five groups) gives out-of-fold figures. ``--operating-point cv`` (the default)
takes the best out-of-fold answer accuracy + decline recall and, with ``--kb tuning``, moves it to
`TUNING_SPLIT_POINT`; ``--operating-point tuning-split`` takes the threshold with the smallest total shortfall to
the targets (answer accuracy 0.80, decline recall 0.85, both sets) on the tuning split of eval/kb_benchmarks (its
own knowledge base and queries, none of them in the fit). The final model's bias puts the point on the shipped
`answer_threshold`. The tuning split's signals are recorded either way and its figures written to the file.

Tried and not kept (--kb deployment --operating-point tuning-split): shortfall on the tuning split 0.140 against
0.191 for the shipped model (accuracy / decline recall CLINC150 0.760 / 0.920 against 0.815 / 0.855, Banking77
0.738 / 0.813 against 0.771 / 0.688), but it declines "Do you deliver?" of our conversation set's tuning split
(confidence 0.28); at the point that answers it the shortfall is 0.234. Held-out splits never run with it.

Tried and not kept (issue 16, signals recorded with --kb tuning; scripts/cv_kb_decline_features.py): six more
signals (dense top-1 lead over another document, dense/BM25 agreement on the first document, how many question
words the passage lacks, the closest owner-written question, the top dense score as a z-score over all passages,
the passage's closest other-document passage), alone or together, and gradient-boosted trees. Under the grouped
5-fold CV none beat the shipped nine (accuracy + decline recall 1.638-1.672 against 1.674; trees 1.576-1.622);
leaving a whole set out, the best Banking77 gain (+dense_margin: 0.806 / 0.761 against 0.836 / 0.700) cost
CLINC150 and the shop as much. Nothing was shipped and no held-out split was run with them.

    python scripts/fit_kb_decline.py [--cache /tmp/trust/decline-signals.json] [--kb tuning|deployment]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import json
import math
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.evaluation.kb import DEFAULT_QUESTIONS, load_questions
from bot.evaluation.kb_intents import (
    HELDOUT_SPLITS,
    Benchmark,
    benchmark_queries,
    default_data_dir,
    load_benchmark,
)
from bot.kb.answerability import AnswerabilityJudge
from bot.kb.answering import DECLINE_MODEL_FILE, ConfidenceSignals, KbAnswerer, KbSettings, RankedSentence
from bot.kb.knowledge_base import KbHit, KnowledgeBase
from bot.prompts import PromptLibrary
from bot.store import Store

FEATURES = (
    "similarity",
    "coverage",
    "missing_rarity",
    "judge_logit",
    "margin",
    "judge_margin",
    "action_missing",
    "vector_score",
    "lexical_score",
)
# Tried and not kept (this session): `masked_similarity` added to these signals, or in place of `similarity`. On
# the tuning split of eval/kb_benchmarks it lowered the shortfall to the targets (0.100 against 0.145 with
# plain similarity, each at its best threshold), but out of fold here it did not help (accuracy + decline
# recall 1.659-1.665 against 1.673), and on both held-out splits CLINC150 accuracy fell (0.740 -> 0.645,
# fresh 0.604 -> 0.483). The signal stays recorded for a later fit.
# every signal a fit may read (--features)
# Signals recorded for the decline study (scripts/cv_kb_decline_features.py) that the shipped model does not read.
STUDIED_SIGNALS = (
    "dense_margin",
    "rank_agreement",
    "missing_words",
    "owner_question_similarity",
    "owner_question_margin",
    "similarity_z",
    "neighbour_similarity",
)
RECORDED = (*FEATURES, "masked_similarity", *STUDIED_SIGNALS)
SEED = 7
JUDGE_PAIRS = Path(__file__).resolve().parents[1] / "bot" / "kb" / "data" / "answerability_benchmarks.jsonl"
BENCHMARK_SETS = ("clinc150", "banking77")
PER_DOCUMENTED, PER_UNKNOWN, PER_UNUSED, OUT_OF_SCOPE = 30, 30, 10, 150
SHIPPED_THRESHOLD = KbSettings().answer_threshold
TARGET_ACCURACY, TARGET_RECALL = 0.80, 0.85
# With --kb tuning the folds' knowledge bases hold only the tuning documents, so scores run lower at evaluation,
# where every document competes; the operating point is moved to confidence TUNING_SPLIT_POINT of the fold-placed
# model. Chosen on the tuning split of eval/kb_benchmarks (signals recorded here, model fitted without them) and
# our conversation set's tuning split: the point with the smallest shortfall to the targets (0.175; 0.25-0.21 tie)
# among those that answer "Do you deliver?" (confidence 0.408 at 0.254), with a little room to it.
TUNING_SPLIT_POINT = 0.211


@dataclass(frozen=True)
class TrainingQuestion:
    text: str
    group: str  # the intent (CV folds never split one)
    kind: str  # "documented", "unknown", "unused", "out_of_scope"
    documents: tuple[str, ...]  # file names that answer it (empty: decline)


@dataclass(frozen=True)
class Row:
    question: TrainingQuestion
    signals: dict[str, float] | None  # None: the FAQ path answered (no decision to learn)
    answerable: bool


class _RecordingAnswerer(KbAnswerer):
    last: ConfidenceSignals | None = None

    def _wants_masked_similarity(self) -> bool:
        return True  # recorded for every question, whether the shipped model reads it or not

    def _wants_recorded_signals(self) -> bool:
        return True

    def _signals(
        self,
        question: str,
        ranked: Sequence[RankedSentence],
        hits: Sequence[KbHit],
        query_vector: np.ndarray | None = None,
    ) -> ConfidenceSignals | None:
        self.last = super()._signals(question, ranked, hits, query_vector)
        return self.last


def judge_questions() -> set[str]:
    """The questions of the judge's benchmark pairs (scripts/make_benchmark_pairs.py)."""
    path = JUDGE_PAIRS
    if not path.exists():
        return set()
    return {json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}


def benchmark_questions(benchmark: Benchmark, rng: random.Random) -> list[TrainingQuestion]:
    data = default_data_dir()
    evaluated = {query.text for query in benchmark_queries(benchmark, "tuning")}
    evaluated |= judge_questions()  # the judge was trained on them: its logit would look better than it is
    out_of_scope: list[str] = []
    if benchmark.name == "clinc150":
        full = json.loads((data / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
        rows = [(query, intent) for query, intent in full["train"]]
        out_of_scope = [query for query, _ in full["oos_train"] if query not in evaluated]
    else:
        with (data / "banking77" / "train.csv").open(encoding="utf-8", newline="") as handle:
            rows = [(row["text"], row["category"]) for row in csv.DictReader(handle)]
    heldout = {intent for split in HELDOUT_SPLITS for intent in benchmark.split_intents(split)}
    by_intent: dict[str, list[str]] = {}
    for query, intent in rows:
        if query not in evaluated and intent not in heldout:
            by_intent.setdefault(intent, []).append(query)
    questions: list[TrainingQuestion] = []
    for intent, queries in sorted(by_intent.items()):
        rng.shuffle(queries)
        if intent in benchmark.documented("tuning"):
            count, kind = PER_DOCUMENTED, "documented"
        elif intent in benchmark.unknown("tuning"):
            count, kind = PER_UNKNOWN, "unknown"
        elif benchmark.name == "banking77":
            count, kind = PER_UNUSED, "unused"
        else:
            continue  # CLINC150's other domains: its out-of-scope queries stand for them
        documents = (f"{intent}.md",) if kind == "documented" else ()
        group = f"{benchmark.name}:{intent}"
        questions.extend(TrainingQuestion(query, group, kind, documents) for query in queries[:count])
    rng.shuffle(out_of_scope)
    questions.extend(
        TrainingQuestion(query, f"{benchmark.name}:oos{index % 5}", "out_of_scope", ())
        for index, query in enumerate(out_of_scope[:OUT_OF_SCOPE])
    )
    return questions


def fit_documents(benchmark: Benchmark, composition: str) -> list[str]:
    """The intents whose documents the fit's knowledge base holds (see ``--kb``)."""
    if composition == "tuning":
        return sorted(benchmark.documented("tuning"))
    return benchmark.kb_documents("fresh")  # tuning + heldout + fresh: all but fresh2's


def answer_sentence_of(benchmark: Benchmark) -> dict[str, str]:
    return {f"{intent}.md": " ".join(document.answer.split()) for intent, document in benchmark.documents.items()}


async def collect(
    questions: list[TrainingQuestion],
    documents: list[Path],
    judge: AnswerabilityJudge,
    answer_sentences: dict[str, str] | None = None,
) -> list[Row]:
    """Signals and labels for `questions` against a knowledge base of `documents`. With `answer_sentences`
    (document file name -> its answer sentence) a row is answerable only when the answer also carries that
    sentence, as the benchmark evaluation counts a correct answer."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="socialbot-decline-") as folder:
        store = Store.open(Path(folder) / "kb.db")
        try:
            kb = KnowledgeBase(store, lexical_weight=0.2)
            kb.add_paths(documents)
            settings = replace(KbSettings(), answer_threshold=0.0)
            answerer = _RecordingAnswerer(kb, None, PromptLibrary(), settings, judge=judge)
            started = time.time()
            for index, question in enumerate(questions):
                answerer.last = None
                answer = await answerer.answer(question.text, use_model=False)
                cited = {Path(hit.source).name for hit in answer.cited}
                signals = answerer.last
                features = None
                if answer.mode != "faq" and signals is not None:
                    features = {name: signals.value(name) for name in RECORDED}
                right = cited & set(question.documents)
                if answer_sentences is not None and right:
                    carried = " ".join(answer.text.split())
                    right = {name for name in right if answer_sentences.get(name, "") in carried}
                rows.append(Row(question, features, bool(right)))
                if index % 100 == 99:
                    print(f"  {index + 1}/{len(questions)} ({time.time() - started:.0f} s)", flush=True)
        finally:
            store.close()
    return rows


async def collect_all(judge: AnswerabilityJudge, composition: str) -> list[Row]:
    rng = random.Random(SEED)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="socialbot-decline-docs-") as folder:
        for name in ("clinc150", "banking77"):
            benchmark = load_benchmark(name)
            documents = Path(folder) / name
            documents.mkdir()
            # The same files as the evaluation writes (`build_benchmark_kb`): answer sentence first or last.
            for index, intent in enumerate(fit_documents(benchmark, composition)):
                text = benchmark.documents[intent].markdown(answer_last=index % 2 == 1)
                (documents / f"{intent}.md").write_text(text, encoding="utf-8")
            questions = benchmark_questions(benchmark, rng)
            print(f"{name}: {len(questions)} questions", flush=True)
            rows += await collect(questions, [documents], judge)
    shop = [
        TrainingQuestion(
            question.question,
            f"shop:{question.expected_docs[0] if question.expected_docs else question.id}",
            "documented" if question.in_scope else "out_of_scope",
            tuple(question.expected_docs),
        )
        for question in load_questions(DEFAULT_QUESTIONS)
        if question.split == "calibration"
    ]
    print(f"eval/kb calibration: {len(shop)} questions", flush=True)
    rows += await collect(shop, [DEFAULT_QUESTIONS.parent / "shop"], judge)
    return rows


async def collect_tuning_split(judge: AnswerabilityJudge) -> list[Row]:
    """The tuning split of eval/kb_benchmarks as its evaluation runs it (its knowledge base, its queries, a
    correct answer carrying the answer sentence): where the operating point is chosen. None of these queries is
    in the fit."""
    rows: list[Row] = []
    for name in ("clinc150", "banking77"):
        benchmark = load_benchmark(name)
        questions = [
            TrainingQuestion(
                query.text,
                f"{name}:{query.intent}",
                "documented" if query.document else ("out_of_scope" if query.intent == "oos" else "unknown"),
                (f"{query.document}.md",) if query.document else (),
            )
            for query in benchmark_queries(benchmark, "tuning")
        ]
        with tempfile.TemporaryDirectory(prefix="socialbot-decline-split-") as folder:
            for index, intent in enumerate(benchmark.kb_documents("tuning")):  # as `build_benchmark_kb` writes them
                text = benchmark.documents[intent].markdown(answer_last=index % 2 == 1)
                (Path(folder) / f"{intent}.md").write_text(text, encoding="utf-8")
            print(f"{name} tuning split: {len(questions)} queries", flush=True)
            rows += await collect(questions, [Path(folder)], judge, answer_sentence_of(benchmark))
    return rows


def shortfall_point(rows: list[Row], scores: np.ndarray) -> tuple[float, dict[str, tuple[float, float]]]:
    """The threshold with the smallest total shortfall to the targets over both benchmarks (ties: the best
    accuracy + recall), and (accuracy, decline recall) per benchmark there. FAQ rows (no signals) answer."""
    sets = {name: [i for i, row in enumerate(rows) if row.question.group.startswith(name)] for name in BENCHMARK_SETS}
    best: tuple[float, float, float, dict[str, tuple[float, float]]] = (math.inf, -math.inf, 0.0, {})
    for threshold in np.unique(scores[np.isfinite(scores)]):
        per_set: dict[str, tuple[float, float]] = {}
        for name, picked in sets.items():
            in_scope = [i for i in picked if rows[i].question.documents]
            out = [i for i in picked if not rows[i].question.documents]
            accuracy = sum(scores[i] >= threshold and rows[i].answerable for i in in_scope) / len(in_scope)
            recall = sum(scores[i] < threshold for i in out) / len(out)
            per_set[name] = (accuracy, recall)
        short = sum(max(0.0, TARGET_ACCURACY - a) + max(0.0, TARGET_RECALL - r) for a, r in per_set.values())
        total = sum(a + r for a, r in per_set.values())
        if short < best[0] - 1e-9 or (abs(short - best[0]) <= 1e-9 and total > best[1] + 1e-9):
            best = (short, total, float(threshold), per_set)
    return best[2], best[3]


def matrix(rows: list[Row]) -> tuple[np.ndarray, np.ndarray]:
    scored = [row for row in rows if row.signals is not None]
    x = np.array([[row.signals[name] for name in FEATURES] for row in scored if row.signals is not None])
    return x, np.array([row.answerable for row in scored])


def operating_point(rows: list[Row], scores: np.ndarray) -> tuple[float, float, float]:
    """(threshold, answer accuracy, decline recall) with the best accuracy + recall; FAQ rows always answer."""
    in_scope = np.array([bool(row.question.documents) for row in rows])
    right = np.array([row.answerable for row in rows])
    best = (-math.inf, 0.0, 0.0)
    for threshold in np.unique(scores[np.isfinite(scores)]):
        answered = scores >= threshold
        accuracy = float((answered & right & in_scope).sum() / in_scope.sum())
        recall = float((~answered & ~in_scope).sum() / (~in_scope).sum())
        if accuracy + recall > best[1] + best[2] + 1e-9:
            best = (float(threshold), accuracy, recall)
    return best


def out_of_fold_scores(rows: list[Row], folds: int = 5) -> np.ndarray:
    groups = sorted({row.question.group for row in rows})
    random.Random(SEED).shuffle(groups)
    fold_of = {group: index % folds for index, group in enumerate(groups)}
    fold = np.array([fold_of[row.question.group] for row in rows])
    scores = np.full(len(rows), math.inf)
    for k in range(folds):
        train = [row for row, f in zip(rows, fold, strict=True) if f != k]
        model = LogisticRegression(C=1.0, max_iter=5000).fit(*matrix(train))
        for index in np.flatnonzero(fold == k):
            signals = rows[index].signals
            if signals is not None:
                scores[index] = float(model.decision_function([[signals[name] for name in FEATURES]])[0])
    return scores


def figures(rows: list[Row], scores: np.ndarray, threshold: float) -> dict[str, dict[str, float]]:
    """Answer accuracy and decline recall per source set and kind of question, at `threshold`."""
    result: dict[str, dict[str, float]] = {}
    for source in ("clinc150", "banking77", "shop"):
        picked = [i for i, row in enumerate(rows) if row.question.group.startswith(source)]
        answered = {i: scores[i] >= threshold for i in picked}
        in_scope = [i for i in picked if rows[i].question.documents]
        entry = {"answer_accuracy": round(sum(answered[i] and rows[i].answerable for i in in_scope) / len(in_scope), 4)}
        for kind in ("unknown", "unused", "out_of_scope"):
            of_kind = [i for i in picked if rows[i].question.kind == kind]
            if of_kind:
                entry[f"decline_recall_{kind}"] = round(sum(not answered[i] for i in of_kind) / len(of_kind), 4)
        result[source] = entry
    return result


def shortfall_figures(rows: list[Row], scores: np.ndarray, threshold: float) -> dict[str, tuple[float, float]]:
    """(answer accuracy, decline recall) per benchmark when rows score `threshold` or more are answered."""
    figures_at: dict[str, tuple[float, float]] = {}
    for name in BENCHMARK_SETS:
        picked = [i for i, row in enumerate(rows) if row.question.group.startswith(name)]
        in_scope = [i for i in picked if rows[i].question.documents]
        out = [i for i in picked if not rows[i].question.documents]
        accuracy = sum(scores[i] >= threshold and rows[i].answerable for i in in_scope) / len(in_scope)
        figures_at[name] = (accuracy, sum(scores[i] < threshold for i in out) / len(out))
    return figures_at


def _rows(cached: list[dict[str, Any]]) -> list[Row]:
    return [
        Row(
            TrainingQuestion(**{**r["question"], "documents": tuple(r["question"]["documents"])}),
            r["signals"],
            bool(r["answerable"]),
        )
        for r in cached
    ]


def _logit(probability: float) -> float:
    return math.log(probability / (1 - probability))


def main() -> None:
    global FEATURES  # --features: the fit, the folds and the shipped file read these signals
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DECLINE_MODEL_FILE)
    parser.add_argument("--cache", type=Path, default=None, help="signals of an earlier run (written when missing)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--judge", type=Path, default=None, help="judge weights folder (default: the shipped one)")
    parser.add_argument("--kb", choices=("tuning", "deployment"), default="tuning", help="see above")
    parser.add_argument("--operating-point", choices=("cv", "tuning-split"), default="cv")
    parser.add_argument("--features", default=",".join(FEATURES), help="comma-separated signals (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    FEATURES = tuple(args.features.split(","))
    if args.cache is not None and args.cache.exists():
        cached = json.loads(args.cache.read_text(encoding="utf-8"))
        rows, split_rows = (_rows(cached["fit"]), _rows(cached["tuning_split"]))
    else:
        judge = AnswerabilityJudge.load(args.judge)
        rows = asyncio.run(collect_all(judge, args.kb))
        split_rows = asyncio.run(collect_tuning_split(judge))
        if args.cache is not None:
            args.cache.write_text(
                json.dumps({"fit": [asdict(r) for r in rows], "tuning_split": [asdict(r) for r in split_rows]}),
                encoding="utf-8",
            )
    cv_scores = out_of_fold_scores(rows)
    cv_threshold, accuracy, recall = operating_point(rows, cv_scores)
    model = LogisticRegression(C=1.0, max_iter=5000).fit(*matrix(rows))
    shipped = _logit(SHIPPED_THRESHOLD)
    split_scores = np.array(
        [
            float(model.decision_function([[r.signals[n] for n in FEATURES]])[0]) if r.signals else math.inf
            for r in split_rows
        ]
    )
    if args.operating_point == "cv":
        threshold = cv_threshold - (shipped - _logit(TUNING_SPLIT_POINT) if args.kb == "tuning" else 0.0)
        point = f"best answer accuracy + decline recall on out-of-fold scores (--kb {args.kb})"
    else:
        threshold, _ = shortfall_point(split_rows, split_scores)
        point = (
            "smallest total shortfall to answer accuracy 0.80 / decline recall 0.85 on the tuning split of "
            f"eval/kb_benchmarks (signals against --kb {args.kb})"
        )
    at_point = {
        name: {"answer_accuracy": round(a, 4), "decline_recall": round(r, 4)}
        for name, (a, r) in shortfall_figures(split_rows, split_scores, threshold).items()
    }
    result = {
        "model": "logistic regression (L2, C=1) over the answerer's confidence signals",
        "features": list(FEATURES),
        "weights": [round(float(w), 4) for w in model.coef_[0]],
        "bias": round(float(model.intercept_[0]) - threshold + shipped, 4),
        "operating_point": f"{point}; placed at answer_threshold {SHIPPED_THRESHOLD}",
        "knowledge_base": args.kb,
        "tuning_split": at_point,
        "cross_validation": {
            "folds": 5,
            "grouped_by": "intent",
            "answer_accuracy": round(accuracy, 4),
            "decline_recall": round(recall, 4),
            "by_set": figures(rows, cv_scores, threshold),
        },
        "questions": len(rows),
        "by_kind": {
            kind: sum(row.question.kind == kind for row in rows) for kind in sorted({r.question.kind for r in rows})
        },
        "seed": SEED,
        "data": "CLINC150 data_full.json train/oos_train, Banking77 train.csv (tuning intents and intents no split "
        "uses), eval/kb calibration split; operating point: tuning split of eval/kb_benchmarks",
        "eval_kb_questions_sha256": hashlib.sha256(DEFAULT_QUESTIONS.read_bytes()).hexdigest(),
        "command": "python scripts/fit_kb_decline.py " + " ".join(sys.argv[1:]),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
