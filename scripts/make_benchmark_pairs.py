"""Question/passage pairs for the answerability judge from the TUNING intents of eval/kb_benchmarks only.

For CLINC150 and Banking77 (read from ../shared/data), the tuning split's documented intents give a positive pair
(a training query + its intent's document) and a near-miss negative (the same query + the closest other
document by dense retrieval); the tuning split's unknown intents (and CLINC150's out-of-scope training queries)
give negatives with their two closest documents. Held-out intents and test files are never read, and the
knowledge base that picks near misses holds the tuning split's documents only. Queries used by
the tuning evaluation are left out, so that its figure is not inflated by training on it.

    python scripts/make_benchmark_pairs.py  # writes bot/kb/data/answerability_benchmarks.jsonl
"""

from __future__ import annotations

import csv
import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.evaluation.kb_intents import (
    BENCHMARKS,
    Benchmark,
    benchmark_queries,
    default_data_dir,
    load_benchmark,
)
from bot.kb.knowledge_base import KnowledgeBase
from bot.store import Store

OUT = Path(__file__).resolve().parents[1] / "bot" / "kb" / "data" / "answerability_benchmarks.jsonl"
PER_INTENT = 15
OUT_OF_SCOPE = 60


def training_rows(name: str) -> tuple[list[tuple[str, str]], list[str]]:
    data = default_data_dir()
    if name == "clinc150":
        full = json.loads((data / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
        return [(query, intent) for query, intent in full["train"]], [query for query, _ in full["oos_train"]]
    with (data / "banking77" / "train.csv").open(encoding="utf-8", newline="") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)], []


def main() -> None:
    rng = random.Random(29)
    pairs: list[dict[str, object]] = []
    for name in BENCHMARKS:
        benchmark = load_benchmark(name)
        evaluated = {query.text for query in benchmark_queries(benchmark, "tuning")}
        rows, out_of_scope = training_rows(name)
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "docs").mkdir()
            store = Store.open(Path(folder) / "kb.db")
            # Only the tuning split's documents: held-out documents are never shown to the judge, not even as
            # near misses.
            for index, intent in enumerate(sorted(benchmark.documented("tuning"))):
                markdown = benchmark.documents[intent].markdown(answer_last=index % 2 == 1)
                (Path(folder) / "docs" / f"{intent}.md").write_text(markdown, encoding="utf-8")
            kb = KnowledgeBase(store, lexical_weight=0.0)
            kb.add_paths([Path(folder) / "docs"])

            def add(question: str, intent: str, answers: bool, kind: str, benchmark: Benchmark = benchmark) -> None:
                document = benchmark.documents[intent]
                pairs.append(
                    {
                        "domain": benchmark.name,
                        "heading": document.title,
                        "passage": f"{document.answer} {document.text}",
                        "question": question,
                        "answers": answers,
                        "kind": kind,
                    }
                )

            for intent in benchmark.documented("tuning") + benchmark.unknown("tuning"):
                queries = [text for text, label in rows if label == intent and text not in evaluated]
                rng.shuffle(queries)
                for query in queries[:PER_INTENT]:
                    ranked = [Path(hit.source).stem for hit in kb.search(query, 3)]
                    if intent in benchmark.documents:
                        add(query, intent, True, "answerable")
                        other = next(doc for doc in ranked if doc != intent)
                        add(query, other, False, "near_miss")
                    else:
                        for doc in ranked[:2]:
                            add(query, doc, False, "unknown_intent")
            rng.shuffle(out_of_scope)
            for query in out_of_scope[:OUT_OF_SCOPE]:
                top = Path(kb.search(query, 1)[0].source).stem
                add(query, top, False, "out_of_scope")
            store.close()
    with OUT.open("w", encoding="utf-8") as handle:
        for pair in pairs:
            handle.write(json.dumps(pair, ensure_ascii=False) + "\n")
    print(f"{len(pairs)} pairs ({sum(bool(p['answers']) for p in pairs)} answerable) -> {OUT}")


if __name__ == "__main__":
    main()
