"""Evaluation of the moderation classifiers on labelled files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.evaluation.moderation import (
    LabelledTexts,
    evaluate_harm,
    evaluate_offensive,
    evaluation_report_dict,
    format_report_table,
    load_labelled_jsonl,
    load_offensive_file,
    load_olid_tsv,
    split_heldout,
)
from bot.moderation.classifier import OffensiveClassifier

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SWEARS = ("fuck", "shit", "idiot", "moron", "hell", "asshole", "damn", "loser")


class KeywordScorer:
    """A predictable stand-in: 1.0 when a swear word occurs, else 0.0."""

    def score(self, text: str) -> float:
        return 1.0 if any(word in text.lower() for word in SWEARS) else 0.0

    def score_batch(self, texts: Sequence[str]) -> list[float]:
        return [self.score(text) for text in texts]


def test_olid_tsv_loader_maps_labels_and_unquotes_tweets() -> None:
    data = load_olid_tsv(FIXTURES / "olid_sample.tsv")
    assert len(data) == 12
    assert sum(data.labels) == 5
    assert data.texts[2] == '@USER Shut up, you pathetic piece of shit. "Expert" my ass'


def test_heldout_split_is_stratified_disjoint_and_reproducible() -> None:
    data = LabelledTexts(tuple(f"text {i}" for i in range(100)), tuple(int(i < 30) for i in range(100)))
    split = split_heldout(data, fraction=0.2, seed=7)
    assert split == split_heldout(data, fraction=0.2, seed=7)
    assert len(split.heldout) == 20 and sum(split.heldout.labels) == 6
    assert not set(split.heldout.texts) & set(split.train.texts)
    assert len(split.train) + len(split.heldout) == 100


def test_offensive_metrics_on_the_fixture_are_exact() -> None:
    data = load_olid_tsv(FIXTURES / "olid_sample.tsv")
    result = evaluate_offensive(KeywordScorer(), data, latency_sample=5)
    # The keyword scorer catches all 5 OFF tweets and wrongly flags none of the 7 NOT tweets.
    assert result.offensive.recall == 1.0 and result.offensive.precision == 1.0
    assert result.macro_f1 == 1.0
    assert result.n == 12 and result.latency_n == 5
    assert 0.0 <= result.latency_ms_p50 <= result.latency_ms_p95


def test_report_dict_has_the_cli_keys_and_formats_as_a_table() -> None:
    data = load_offensive_file(FIXTURES / "offensive_sample.jsonl")
    offensive = evaluate_offensive(KeywordScorer(), data, latency_sample=4)
    harm = evaluate_harm(KeywordScorer(), load_labelled_jsonl(FIXTURES / "harm_sample.jsonl", "harmful"))
    report = evaluation_report_dict(offensive, harm)
    expected = {
        "macro_f1",
        "f1_offensive",
        "precision_offensive",
        "recall_offensive",
        "f1_not_offensive",
        "precision_not_offensive",
        "recall_not_offensive",
        "latency_ms_p50",
        "latency_ms_p95",
        "n",
        "harm_recall",
        "harm_false_block_rate",
    }
    assert expected <= set(report)
    assert report["n"] == 4
    table = format_report_table(report)
    assert "macro-F1" in table and "p95" in table and "false-block" in table


def test_harm_metrics_count_recall_and_false_blocks() -> None:
    data = LabelledTexts(("a", "b", "c", "d"), (1, 1, 0, 0))

    class Fixed:
        def score(self, text: str) -> float:
            return {"a": 0.9, "b": 0.1, "c": 0.8, "d": 0.0}[text]

        def score_batch(self, texts: Sequence[str]) -> list[float]:
            return [self.score(text) for text in texts]

    result = evaluate_harm(Fixed(), data)
    assert (result.recall, result.false_block_rate) == (0.5, 0.5)


def test_the_shipped_classifier_evaluates_on_the_fixture() -> None:
    classifier = OffensiveClassifier.load()
    data = load_olid_tsv(FIXTURES / "olid_sample.tsv")
    result = evaluate_offensive(classifier, data, threshold=classifier.threshold, latency_sample=12)
    assert result.macro_f1 >= 0.7
    assert result.latency_ms_p50 > 0.0


def test_a_missing_file_raises_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such file"):
        load_olid_tsv(tmp_path / "missing.tsv")
