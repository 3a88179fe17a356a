"""Knowledge-base quality on someone else's data: CLINC150 and Banking77 queries against answer documents.

`eval/kb_benchmarks/<set>.json` holds one short answer document per intent for some intents (our words) and
names, for each split, the intents that have a document and the intents left out on purpose ("unknown": their
questions must be declined). The splits are by intent: settings are chosen on the "tuning" intents and reported
on the "heldout" intents, whose queries also come from another file of the dataset (its test data). "fresh" is a
second held-out split written later, when "heldout" had been looked at several times: other intents (CLINC150's
travel domain, other Banking77 intents), their test queries, out-of-scope test queries "heldout" does not use,
and a knowledge base of its own and the earlier splits' documents. "fresh2" is a third, written before any tuning
of the session that added it and looked at once at its end: intents no other split nor any fit uses (CLINC150's
work domain, the last Banking77 intents; the decline fit leaves them out), their test queries, the out-of-scope
test queries neither "heldout" nor "fresh" uses, and a knowledge base of every document but fresh3's. "fresh3" is a
fourth, written the same way by a later session (CLINC150's kitchen_and_dining and auto_and_commute domains, 9 of
the 19 Banking77 intents no split had used; the decline fit leaves them out), with a knowledge base of every
document. The queries themselves are read from `../shared/data` at evaluation time and never copied here.

An in-scope query counts as answered correctly when the bot answers, cites the intent's document, and the answer
carries that document's answer sentence (not a nearby sentence of it).
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.evaluation import SETS
from bot.kb import KbError
from bot.kb.answerability import AnswerabilityJudge
from bot.kb.answering import KbAnswer, KbAnswerer, KbSettings
from bot.kb.knowledge_base import KnowledgeBase
from bot.prompts import PromptLibrary
from bot.store import Store

BENCHMARKS_DIR = SETS / "kb_benchmarks"
REPO_ROOT = Path(__file__).resolve().parents[2]


def default_data_dir() -> Path:
    """`$SOCIALBOT_SHARED_DATA`, else the first of `../shared/data` and `../../shared/data` beside the repository
    (a git worktree sits one folder deeper than the main checkout)."""
    configured = os.environ.get("SOCIALBOT_SHARED_DATA")
    if configured:
        return Path(configured)
    candidates = [REPO_ROOT.parent / "shared" / "data", REPO_ROOT.parent.parent / "shared" / "data"]
    return next((path for path in candidates if path.is_dir()), candidates[0])


SPLITS = ("tuning", "heldout", "fresh", "fresh2", "fresh3")
HELDOUT_SPLITS = ("heldout", "fresh", "fresh2", "fresh3")
BENCHMARKS = ("clinc150", "banking77")
# Queries per intent and out-of-scope queries per split; a seeded shuffle picks them.
PER_INTENT = {"tuning": 20, "heldout": 20, "fresh": 30, "fresh2": 30, "fresh3": 30}
OUT_OF_SCOPE = {"tuning": 100, "heldout": 150, "fresh": 150, "fresh2": 150, "fresh3": 150}
SEED = 16


@dataclass(frozen=True)
class AnswerDocument:
    """One intent's answer document: its title, the sentence that answers the intent's question, context, and
    the questions its owner expects for it (written from the intent's meaning, never from the dataset's queries).
    """

    intent: str
    title: str
    answer: str
    text: str
    questions: tuple[str, ...] = ()

    def markdown(self, answer_last: bool, with_questions: bool = True) -> str:
        body = f"{self.text} {self.answer}" if answer_last else f"{self.answer} {self.text}"
        asked = f"Questions: {' | '.join(self.questions)}\n\n" if with_questions and self.questions else ""
        return f"# {self.title}\n\n{asked}{body}\n"


@dataclass(frozen=True)
class BenchmarkQuery:
    """A third-party query, its intent, and the document that answers it (None: it must be declined)."""

    text: str
    intent: str
    document: str | None


@dataclass(frozen=True)
class Benchmark:
    """A benchmark's documents and the intents of each split."""

    name: str
    documents: dict[str, AnswerDocument]
    intents: dict[str, list[str]]

    def documented(self, split: str) -> list[str]:
        return self.intents.get(f"documented_{split}", [])

    def unknown(self, split: str) -> list[str]:
        return self.intents.get(f"unknown_{split}", [])

    def split_intents(self, split: str) -> list[str]:
        return self.documented(split) + self.unknown(split)

    def kb_documents(self, split: str) -> list[str]:
        """The intents whose documents the split's knowledge base holds: "tuning" and "heldout" share one of
        both splits' documents; "fresh" adds its own to it, "fresh2" every document but fresh3's (as when it was
        written), "fresh3" every document."""
        shared = self.documented("tuning") + self.documented("heldout")
        if split == "fresh":
            return sorted(shared + self.documented("fresh"))
        if split == "fresh2":
            return sorted(set(self.documents) - set(self.documented("fresh3")))
        if split == "fresh3":
            return sorted(self.documents)
        return sorted(shared)


def load_benchmark(name: str, folder: Path = BENCHMARKS_DIR) -> Benchmark:
    path = folder / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        documents = {
            intent: AnswerDocument(
                intent, row["title"], row["answer"], row["text"], tuple(map(str, row.get("questions", ())))
            )
            for intent, row in data["documents"].items()
        }
        intents = {key: list(value) for key, value in data["intents"].items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KbError(f"{path}: not a readable benchmark file ({exc})") from None
    for split in SPLITS:
        missing = [intent for intent in intents.get(f"documented_{split}", []) if intent not in documents]
        if missing:
            raise KbError(f"{path}: documented intents without a document: {', '.join(missing)}")
    return Benchmark(name, documents, intents)


def _sample(
    rows: list[tuple[str, str]], intents: list[str], per_intent: int, rng: random.Random
) -> list[tuple[str, str]]:
    chosen: list[tuple[str, str]] = []
    for intent in intents:
        queries = [row for row in rows if row[1] == intent]
        rng.shuffle(queries)
        chosen.extend(queries[:per_intent])
    return chosen


def _used_out_of_scope(data: dict[str, list[list[str]]], split: str) -> set[str]:
    """The out-of-scope test queries of the held-out splits before `split` (each takes what the earlier leave)."""
    used: set[str] = set()
    for earlier in HELDOUT_SPLITS[: HELDOUT_SPLITS.index(split)]:
        queries = [query for query, _ in data["oos_test"] if query not in used]
        random.Random(f"{SEED}-clinc150-{earlier}").shuffle(queries)
        used |= set(queries[: OUT_OF_SCOPE[earlier]])
    return used


def benchmark_queries(benchmark: Benchmark, split: str, data_dir: Path | None = None) -> list[BenchmarkQuery]:
    """The split's queries: its documented and unknown intents' queries, plus out-of-scope queries (CLINC150).

    Tuning queries come from the dataset's training data, held-out queries from its test data.
    """
    data_dir = data_dir or default_data_dir()
    rng = random.Random(f"{SEED}-{benchmark.name}-{split}")
    intents = benchmark.split_intents(split)
    if benchmark.name == "clinc150":
        path = data_dir / "clinc150" / "data_full.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KbError(f"{path}: cannot read CLINC150 ({exc})") from None
        rows = [(query, intent) for query, intent in data["train" if split == "tuning" else "test"]]
        out_of_scope = [query for query, _ in data["oos_val" if split == "tuning" else "oos_test"]]
        if split in HELDOUT_SPLITS[1:]:
            # The out-of-scope test queries the earlier held-out splits leave unused.
            out_of_scope = [query for query in out_of_scope if query not in _used_out_of_scope(data, split)]
        rng.shuffle(out_of_scope)
        picked = _sample(rows, intents, PER_INTENT[split], rng)
        picked += [(query, "oos") for query in out_of_scope[: OUT_OF_SCOPE[split]]]
    elif benchmark.name == "banking77":
        path = data_dir / "banking77" / ("train.csv" if split == "tuning" else "test.csv")
        try:
            with path.open(encoding="utf-8", newline="") as handle:
                rows = [(row["text"], row["category"]) for row in csv.DictReader(handle)]
        except (OSError, KeyError) as exc:
            raise KbError(f"{path}: cannot read Banking77 ({exc})") from None
        picked = _sample(rows, intents, PER_INTENT[split], rng)
    else:
        raise KbError(f"unknown benchmark {benchmark.name!r} (choose from {', '.join(BENCHMARKS)})")
    return [
        BenchmarkQuery(text, intent, intent if intent in benchmark.documents else None)
        for text, intent in picked
        if intent == "oos" or intent in intents
    ]


def build_benchmark_kb(
    benchmark: Benchmark, store: Store, folder: Path, lexical_weight: float, split: str = "tuning"
) -> KnowledgeBase:
    """A knowledge base of the split's documents (`Benchmark.kb_documents`), one file per intent; the answer
    sentence comes first in half of them and last in the others."""
    for index, intent in enumerate(benchmark.kb_documents(split)):
        document = benchmark.documents[intent]
        (folder / f"{intent}.md").write_text(document.markdown(answer_last=index % 2 == 1), encoding="utf-8")
    kb = KnowledgeBase(store, lexical_weight=lexical_weight)
    kb.add_paths([folder])
    return kb


@dataclass(frozen=True)
class QueryResult:
    """What happened to one query: the answer, the top documents of hybrid and of plain dense retrieval."""

    query: BenchmarkQuery
    answer: KbAnswer
    hybrid_top: str | None
    dense_top: str | None
    latency_ms: float


def _document_of(source: str) -> str:
    return Path(source).stem


async def run_benchmark(
    name: str,
    split: str,
    prompts: PromptLibrary,
    settings: KbSettings,
    judge: AnswerabilityJudge | None,
    lexical_weight: float,
    data_dir: Path | None = None,
    limit: int | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> list[QueryResult]:
    """Answer every query of the split (extractive answers: the model is not used), and note the top documents
    of hybrid and of plain dense retrieval over the same passages."""
    benchmark = load_benchmark(name)
    queries = benchmark_queries(benchmark, split, data_dir)
    if limit:
        queries = queries[:limit]
    results: list[QueryResult] = []
    with tempfile.TemporaryDirectory(prefix=f"socialbot-{name}-") as folder:
        documents = Path(folder) / "documents"
        documents.mkdir()
        store = Store.open(Path(folder) / "kb.db")
        try:
            kb = await asyncio.to_thread(build_benchmark_kb, benchmark, store, documents, lexical_weight, split)
            dense = KnowledgeBase(store, encoder=kb.encoder, lexical_weight=0.0)
            answerer = KbAnswerer(kb, None, prompts, settings, judge=judge)
            for index, query in enumerate(queries):
                started = time.perf_counter()
                answer = await answerer.answer(query.text, use_model=False)
                latency = (time.perf_counter() - started) * 1000
                dense_hits = await asyncio.to_thread(dense.search, query.text, 1)
                results.append(
                    QueryResult(
                        query,
                        answer,
                        _document_of(answer.hits[0].source) if answer.hits else None,
                        _document_of(dense_hits[0].source) if dense_hits else None,
                        latency,
                    )
                )
                progress(index + 1, len(queries))
        finally:
            store.close()
    return results


def answered_correctly(result: QueryResult, benchmark: Benchmark) -> bool:
    """Answered, from the intent's document, with the document's answer sentence in the reply."""
    expected = result.query.document
    answer = result.answer
    if expected is None or answer.outcome != "answered" or not answer.cited:
        return False
    if _document_of(answer.cited[0].source) != expected:
        return False
    return " ".join(benchmark.documents[expected].answer.split()) in " ".join(answer.text.split())


def benchmark_figures(name: str, split: str, results: list[QueryResult]) -> dict[str, Any]:
    """Answer accuracy, decline recall/precision, hit@1 hybrid vs dense, and latency for one split."""
    benchmark = load_benchmark(name)
    in_scope = [r for r in results if r.query.document is not None]
    out_scope = [r for r in results if r.query.document is None]
    unknown = [r for r in out_scope if r.query.intent != "oos"]
    oos = [r for r in out_scope if r.query.intent == "oos"]
    declined = [r for r in results if r.answer.outcome == "declined"]
    correct = [r for r in in_scope if answered_correctly(r, benchmark)]
    right_document = [
        r
        for r in in_scope
        if r.answer.outcome == "answered"
        and r.answer.cited
        and _document_of(r.answer.cited[0].source) == r.query.document
    ]
    latencies = [r.latency_ms for r in results]

    def ratio(part: int, whole: int) -> float:
        return round(part / whole, 4) if whole else 0.0

    failures = [
        {
            "query": r.query.text,
            "intent": r.query.intent,
            "outcome": r.answer.outcome,
            "cited": [_document_of(hit.source) for hit in r.answer.cited],
            "top": r.hybrid_top,
            "confidence": round(r.answer.confidence, 3),
        }
        for r in results
        if (r.query.document is not None and r not in correct) or (r.query.document is None and r not in declined)
    ]
    return {
        "benchmark": name,
        "split": split,
        "queries": len(results),
        "in_scope": len(in_scope),
        "out_of_scope": len(out_scope),
        "documented_intents": len(benchmark.documented(split)),
        "unknown_intents": len(benchmark.unknown(split)),
        "answer_accuracy": ratio(len(correct), len(in_scope)),
        "answered_from_right_document": ratio(len(right_document), len(in_scope)),
        "decline_recall": ratio(sum(1 for r in out_scope if r.answer.outcome == "declined"), len(out_scope)),
        "decline_recall_unknown_intents": ratio(
            sum(1 for r in unknown if r.answer.outcome == "declined"), len(unknown)
        ),
        "decline_recall_out_of_scope": ratio(sum(1 for r in oos if r.answer.outcome == "declined"), len(oos)),
        "decline_precision": ratio(sum(1 for r in declined if r.query.document is None), len(declined)),
        "hit_at_1_hybrid": ratio(sum(1 for r in in_scope if r.hybrid_top == r.query.document), len(in_scope)),
        "hit_at_1_dense": ratio(sum(1 for r in in_scope if r.dense_top == r.query.document), len(in_scope)),
        "latency_ms_p50": round(statistics.median(latencies), 1) if latencies else 0.0,
        "failures": failures,
    }


def format_benchmark_figures(figures: dict[str, Any]) -> str:
    """One block of lines per benchmark split, for people."""
    return "\n".join(
        [
            f"{figures['benchmark']} / {figures['split']}: {figures['queries']} queries "
            f"({figures['in_scope']} in scope over {figures['documented_intents']} documented intents, "
            f"{figures['out_of_scope']} to decline from {figures['unknown_intents']} unknown intents"
            f"{' + out-of-scope' if figures['benchmark'] == 'clinc150' else ''})",
            f"  answer accuracy        {figures['answer_accuracy']:.3f} "
            f"(right document {figures['answered_from_right_document']:.3f})",
            f"  decline recall         {figures['decline_recall']:.3f} (unknown intents "
            f"{figures['decline_recall_unknown_intents']:.3f}, "
            f"out-of-scope {figures['decline_recall_out_of_scope']:.3f})",
            f"  decline precision      {figures['decline_precision']:.3f}",
            f"  hit@1 hybrid / dense   {figures['hit_at_1_hybrid']:.3f} / {figures['hit_at_1_dense']:.3f}",
            f"  latency p50            {figures['latency_ms_p50']:.0f} ms",
        ]
    )
