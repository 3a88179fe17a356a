"""scripts/fit_kb_decline.py: the operating point and the intent-grouped folds behind the shipped decline model."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from bot.evaluation.kb_intents import default_data_dir
from bot.kb.answering import DECLINE_MODEL_FILE, ConfidenceSignals

HAVE_DATA = (default_data_dir() / "clinc150").is_dir() and (default_data_dir() / "banking77").is_dir()
SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "fit_kb_decline.py"


@pytest.fixture(scope="module")
def fit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fit_kb_decline", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fit_kb_decline"] = module
    spec.loader.exec_module(module)
    return module


def rows(fit: ModuleType, count: int = 60) -> list[object]:
    """Answerable questions score high on the first signal (a similarity), the others low, with some overlap; ten
    intents."""
    rng = np.random.default_rng(1)
    made = []
    for index in range(count):
        documented = index % 2 == 0
        similarity = float(rng.normal(0.7 if documented else 0.4, 0.12))
        signals = {name: 0.0 for name in fit.FEATURES} | {fit.FEATURES[0]: similarity, "margin": similarity / 2}
        question = fit.TrainingQuestion(
            f"q{index}",
            f"set:intent{index % 10}",
            "documented" if documented else "unknown",
            ("doc.md",) if documented else (),
        )
        made.append(fit.Row(question, signals, documented))
    return made


def test_the_operating_point_maximises_accuracy_plus_decline_recall(fit: ModuleType) -> None:
    data = rows(fit)
    scores = np.array([row.signals[fit.FEATURES[0]] for row in data])
    threshold, accuracy, recall = fit.operating_point(data, scores)
    for other in np.unique(scores):
        answered = scores >= other
        in_scope = np.array([bool(row.question.documents) for row in data])
        other_sum = (answered & in_scope).sum() / in_scope.sum() + (~answered & ~in_scope).sum() / (~in_scope).sum()
        assert accuracy + recall >= other_sum - 1e-9
    assert 0.4 < threshold < 0.7


def test_out_of_fold_scores_never_come_from_a_model_that_saw_the_intent(fit: ModuleType) -> None:
    data = rows(fit)
    scores = fit.out_of_fold_scores(data)
    assert np.isfinite(scores).all()
    in_scope = np.array([bool(row.question.documents) for row in data])
    assert scores[in_scope].mean() > scores[~in_scope].mean()


def test_the_operating_point_on_the_tuning_split_has_the_smallest_shortfall_to_both_targets(fit: ModuleType) -> None:
    data = [
        fit.Row(fit.TrainingQuestion(f"q{i}", f"{name}:intent{i % 4}", kind, docs), {}, answerable)
        for name in fit.BENCHMARK_SETS
        for i, (kind, docs, answerable) in enumerate(
            [("documented", ("doc.md",), True)] * 8
            + [("documented", ("doc.md",), False)] * 2
            + [("unknown", (), False)] * 10
        )
    ]
    # in scope scores 1..10 (the two wrong answers lowest), out of scope 0.5..9.5
    scores = np.array([float(i % 20 + 1) if i % 20 < 10 else float(i % 20 - 10) + 0.5 for i in range(len(data))])
    threshold, per_set = fit.shortfall_point(data, scores)
    assert per_set == fit.shortfall_figures(data, scores, threshold)
    for other in np.unique(scores):
        other_set = fit.shortfall_figures(data, scores, float(other))
        ours = sum(max(0, fit.TARGET_ACCURACY - a) + max(0, fit.TARGET_RECALL - r) for a, r in per_set.values())
        theirs = sum(max(0, fit.TARGET_ACCURACY - a) + max(0, fit.TARGET_RECALL - r) for a, r in other_set.values())
        assert ours <= theirs + 1e-9


def test_the_fit_knowledge_base_holds_what_evaluation_holds_but_never_the_last_held_out_splits(
    fit: ModuleType,
) -> None:
    from bot.evaluation.kb_intents import BENCHMARKS, load_benchmark

    for name in BENCHMARKS:
        benchmark = load_benchmark(name)
        deployment = set(fit.fit_documents(benchmark, "deployment"))
        assert set(benchmark.kb_documents("tuning")) <= deployment
        assert not deployment & (set(benchmark.documented("fresh2")) | set(benchmark.documented("fresh3")))
        assert set(fit.fit_documents(benchmark, "tuning")) == set(benchmark.documented("tuning"))


@pytest.mark.skipif(not HAVE_DATA, reason="../shared/data is not beside the repository")
def test_the_fit_never_reads_a_held_out_intents_queries(fit: ModuleType) -> None:
    import random

    from bot.evaluation.kb_intents import BENCHMARKS, HELDOUT_SPLITS, load_benchmark

    for name in BENCHMARKS:
        benchmark = load_benchmark(name)
        questions = fit.benchmark_questions(benchmark, random.Random(0))
        held = {f"{name}:{intent}" for split in HELDOUT_SPLITS for intent in benchmark.split_intents(split)}
        assert questions and not {question.group for question in questions} & held


def test_the_shipped_file_names_only_known_signals_and_its_grouped_cross_validation() -> None:
    shipped = json.loads(DECLINE_MODEL_FILE.read_text(encoding="utf-8"))
    assert set(shipped["features"]) <= set(ConfidenceSignals.__dataclass_fields__)
    assert shipped["cross_validation"]["grouped_by"] == "intent"
    assert shipped["seed"] == 7
