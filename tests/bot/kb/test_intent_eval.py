"""The CLINC150 / Banking77 knowledge-base sets: documents per intent, splits by intent, queries from the data."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli.main import main
from bot.evaluation.kb_intents import (
    BENCHMARKS,
    SPLITS,
    benchmark_figures,
    benchmark_queries,
    default_data_dir,
    load_benchmark,
)

HAVE_DATA = (default_data_dir() / "clinc150").is_dir() and (default_data_dir() / "banking77").is_dir()


@pytest.mark.parametrize("name", BENCHMARKS)
def test_each_documented_intent_has_an_answer_document_and_splits_share_no_intent(name: str) -> None:
    benchmark = load_benchmark(name)
    intents = {split: set(benchmark.split_intents(split)) for split in SPLITS}
    assert all(intents.values())
    assert not intents["tuning"] & intents["heldout"]
    assert not intents["fresh"] & (intents["tuning"] | intents["heldout"])
    assert not intents["fresh2"] & (intents["tuning"] | intents["heldout"] | intents["fresh"])
    assert not intents["fresh3"] & (intents["tuning"] | intents["heldout"] | intents["fresh"] | intents["fresh2"])
    assert set(benchmark.kb_documents("fresh3")) == set(benchmark.documents)  # every document, its own too
    # fresh2 keeps the knowledge base it was first looked at with: every document written before fresh3
    assert set(benchmark.kb_documents("fresh2")) == set(benchmark.documents) - set(benchmark.documented("fresh3"))
    assert not set(benchmark.kb_documents("fresh")) & set(benchmark.documented("fresh2"))
    assert set(benchmark.documents) == {intent for split in SPLITS for intent in benchmark.documented(split)}
    assert not set(benchmark.documents) & {intent for split in SPLITS for intent in benchmark.unknown(split)}
    for document in benchmark.documents.values():
        assert document.answer.endswith(".") and document.answer not in document.text


@pytest.mark.skipif(not HAVE_DATA, reason="../shared/data is not beside the repository")
@pytest.mark.parametrize("name", BENCHMARKS)
def test_each_split_reads_its_own_intents_queries_and_declines_the_unknown_ones(name: str) -> None:
    benchmark = load_benchmark(name)
    for split in SPLITS:
        queries = benchmark_queries(benchmark, split)
        intents = {query.intent for query in queries}
        assert intents - {"oos"} == set(benchmark.documented(split)) | set(benchmark.unknown(split))
        assert all((query.document is None) == (query.intent not in benchmark.documents) for query in queries)
    texts = {split: {query.text for query in benchmark_queries(benchmark, split)} for split in SPLITS}
    assert not texts["tuning"] & (texts["heldout"] | texts["fresh"])
    assert not texts["heldout"] & texts["fresh"]  # out-of-scope test queries too
    assert not texts["fresh2"] & (texts["tuning"] | texts["heldout"] | texts["fresh"])
    assert not texts["fresh3"] & (texts["tuning"] | texts["heldout"] | texts["fresh"] | texts["fresh2"])
    assert benchmark_figures(name, "tuning", [])["queries"] == 0


@pytest.mark.skipif(not HAVE_DATA, reason="../shared/data is not beside the repository")
@pytest.mark.parametrize("name", BENCHMARKS)
def test_the_documents_questions_are_our_own_words_not_the_datasets_queries(name: str) -> None:
    def normal(text: str) -> str:
        return " ".join(text.lower().strip(" ?.!").split())

    benchmark = load_benchmark(name)
    assert all(len(document.questions) >= 5 for document in benchmark.documents.values())
    ours = {normal(question) for document in benchmark.documents.values() for question in document.questions}
    data = default_data_dir()
    if name == "clinc150":
        full = json.loads((data / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
        theirs = {normal(query) for rows in full.values() for query, _ in rows}
    else:
        theirs = set()
        for file in ("train.csv", "test.csv"):
            with (data / "banking77" / file).open(encoding="utf-8", newline="") as handle:
                theirs |= {normal(row["text"]) for row in csv.DictReader(handle)}
    assert not ours & theirs  # not one of them is a query of the dataset, in any of its files
    markdown = next(iter(benchmark.documents.values())).markdown(answer_last=False)
    assert "\nQuestions: " in markdown


@pytest.mark.skipif(not HAVE_DATA, reason="../shared/data is not beside the repository")
def test_eval_conversation_reports_the_fresh_split_of_both_kb_sets(tmp_path: Path) -> None:
    config = tmp_path / "socialbot.toml"
    config.write_text('[bot]\ndatabase = "bot.db"\n', encoding="utf-8")
    args = ["--config", str(config), "eval", "conversation", "--split", "fresh", "--no-model", "--limit", "3", "--json"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["conversation"] == {}  # the conversation set has no fresh split
    assert set(report["kb_sets"]) == {f"{name}/fresh" for name in BENCHMARKS}
    for figures in report["kb_sets"].values():
        assert figures["queries"] == 3 and figures["split"] == "fresh"
