"""Choose the cross-language stage's confidence rule (bot/kb/cross_language.py) on third-party tuning intents.

CLINC150 / Banking77 queries (English) are scored with the multilingual encoder against the split's benchmark
documents: the best sentence or owner question (similarity) and its document's lead over the best other document.
The rule answers when the similarity reaches MIN_SIMILARITY, or LEAD_SIMILARITY with a lead of MIN_LEAD. On
`--split tuning` it searches a grid of the three for the highest mean answer accuracy at which every set keeps
decline recall of unknown intents >= 0.90 (ties: the rule that answers least), and prints its figures.
`--split heldout --rule S L M` scores the fixed rule once (a look: count it).

    python scripts/tune_kb_cross_language.py --split tuning
    python scripts/tune_kb_cross_language.py --split heldout --rule 0.72 0.54 0.16
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.evaluation.kb_intents import BENCHMARKS, benchmark_queries, build_benchmark_kb, load_benchmark
from bot.kb.cross_language import CrossLanguageIndex
from bot.store import Store

MIN_UNKNOWN_DECLINE_RECALL = 0.90


@dataclass(frozen=True)
class Scored:
    """One query's best cross-language match: its scores, and whether quoting it would be the right answer."""

    intent: str
    documented: bool
    similarity: float
    lead: float
    correct: bool


def score_split(name: str, split: str) -> list[Scored]:
    benchmark = load_benchmark(name)
    queries = benchmark_queries(benchmark, split)
    rows: list[Scored] = []
    with tempfile.TemporaryDirectory(prefix=f"xling-{name}-") as folder:
        documents = Path(folder) / "documents"
        documents.mkdir()
        store = Store.open(Path(folder) / "kb.db")
        try:
            build_benchmark_kb(benchmark, store, documents, 0.2, split)
            index = CrossLanguageIndex(store)
            for query in queries:
                match = index.match(query.text)
                assert match is not None
                correct = (
                    query.document is not None
                    and Path(match.hit.source).stem == query.document
                    and " ".join(benchmark.documents[query.document].answer.split()) in match.quote
                )
                rows.append(Scored(query.intent, query.document is not None, match.similarity, match.lead, correct))
        finally:
            store.close()
    return rows


@dataclass(frozen=True)
class Rule:
    """Answer at `similarity`, or at `lead_similarity` when the document leads the next one by `lead`."""

    similarity: float
    lead_similarity: float
    lead: float

    def answers(self, row: Scored) -> bool:
        return row.similarity >= self.similarity or (row.similarity >= self.lead_similarity and row.lead >= self.lead)


def figures(rows: list[Scored], rule: Rule) -> dict[str, float]:
    answered = rule.answers

    in_scope = [row for row in rows if row.documented]
    unknown = [row for row in rows if not row.documented and row.intent != "oos"]
    oos = [row for row in rows if row.intent == "oos"]
    out = [row for row in rows if not row.documented]

    def ratio(part: int, whole: int) -> float:
        return round(part / whole, 4) if whole else float("nan")

    return {
        "answer_accuracy": ratio(sum(answered(r) and r.correct for r in in_scope), len(in_scope)),
        "answered_in_scope": ratio(sum(answered(r) for r in in_scope), len(in_scope)),
        "decline_recall": ratio(sum(not answered(r) for r in out), len(out)),
        "decline_recall_unknown_intents": ratio(sum(not answered(r) for r in unknown), len(unknown)),
        "decline_recall_out_of_scope": ratio(sum(not answered(r) for r in oos), len(oos)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("tuning", "heldout"), required=True)
    parser.add_argument("--rule", type=float, nargs=3, default=None, metavar=("SIMILARITY", "LEAD_SIMILARITY", "LEAD"))
    parser.add_argument("--cache", type=Path, default=Path("var/xling_scores"), help="scored queries, per split")
    args = parser.parse_args()
    scored: dict[str, list[Scored]] = {}
    for name in BENCHMARKS:
        path = args.cache / f"{name}-{args.split}.json"
        if path.exists():
            scored[name] = [Scored(**row) for row in json.loads(path.read_text(encoding="utf-8"))]
        else:
            scored[name] = score_split(name, args.split)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps([row.__dict__ for row in scored[name]]), encoding="utf-8")
    if args.rule is not None:
        for name, rows in scored.items():
            print(name, args.split, json.dumps(figures(rows, Rule(*args.rule))))
        return
    if args.split != "tuning":
        parser.error("a held-out split is scored with a fixed --rule only")
    best: tuple[float, Rule] | None = None
    for similarity_step in range(90, 59, -1):
        for lead_similarity_step in range(similarity_step, 29, -2):
            for lead_step in range(40, -1, -2):
                rule = Rule(similarity_step / 100, lead_similarity_step / 100, lead_step / 100)
                results = [figures(rows, rule) for rows in scored.values()]
                if any(result["decline_recall_unknown_intents"] < MIN_UNKNOWN_DECLINE_RECALL for result in results):
                    continue
                accuracy = sum(result["answer_accuracy"] for result in results) / len(results)
                if best is None or accuracy > best[0] + 1e-9:
                    best = (accuracy, rule)
    if best is None:
        print("no rule keeps decline recall of unknown intents >= 0.90 on every set")
        return
    rule = best[1]
    print(
        f"chosen on tuning: MIN_SIMILARITY = {rule.similarity:.2f}, LEAD_SIMILARITY = {rule.lead_similarity:.2f}, "
        f"MIN_LEAD = {rule.lead:.2f}"
    )
    for name, rows in scored.items():
        print(name, "tuning", json.dumps(figures(rows, rule)))
        alone = Rule(rule.similarity, 1.0, 1.0)
        print(name, "tuning, similarity alone", json.dumps(figures(rows, alone)))


if __name__ == "__main__":
    main()
