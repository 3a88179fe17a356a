"""The answerability judge: a cross-encoder that says whether a passage answers a question.

The pairs below are about a barber shop, a business that is not in the judge's training data.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.kb.answerability import (
    LAYERS_FILE,
    METADATA_FILE,
    AnswerabilityJudge,
    PairTokenizer,
    default_weights_dir,
    load_judge,
    passage_text,
)
from bot.moderation.classifier import ClassifierLoadError

ROOT = Path(__file__).resolve().parents[3]

HOURS = "Opening hours: We are open Tuesday to Saturday from 9 am to 6 pm. We are closed on Sundays and Mondays."
PRICES = "Prices: A men's haircut costs 22 euros and a beard trim 12 euros. Children under 12 pay 15 euros."
BOOKING = "Booking: Book online at cutandco.example or call 01 555 0192. Walk-ins are welcome when a chair is free."
# (passage, a question it answers, a question that shares its words but that it does not answer)
PAIRS = [
    (HOURS, "Are you open on Saturday?", "Who is the owner of the shop?"),
    (PRICES, "How much is a beard trim?", "Do you sell beard oil?"),
    (PRICES, "what do kids pay for a cut", "Do you colour hair?"),
    (BOOKING, "Can I just walk in?", "Can I book through Instagram?"),
    (BOOKING, "How do I book?", "What's the capital of Peru?"),
]


@pytest.fixture(scope="module")
def judge() -> AnswerabilityJudge:
    return AnswerabilityJudge.load()


def test_a_passage_that_answers_scores_above_one_that_only_shares_its_words(judge: AnswerabilityJudge) -> None:
    for passage, answered, not_answered in PAIRS:
        yes, no = judge.logits(answered, [passage])[0], judge.logits(not_answered, [passage])[0]
        assert yes > 0 > no, (answered, yes, not_answered, no)


def test_scores_are_deterministic_and_one_per_passage_in_order(judge: AnswerabilityJudge) -> None:
    question = "How much is a beard trim?"
    together = judge.logits(question, [HOURS, PRICES])
    alone = [judge.logits(question, [passage])[0] for passage in (HOURS, PRICES)]
    assert together == pytest.approx(alone, abs=1e-4)
    assert together[1] > together[0]
    assert judge.logits(question, []) == []


def test_the_passage_is_the_second_segment_of_the_pair() -> None:
    batch = PairTokenizer(max_tokens=16)([("open sunday?", "We are closed on Sundays and Mondays and every holiday.")])
    types = batch.token_type_ids[0].tolist()
    assert types[:4] == [0, 0, 0, 0]  # [CLS] open sunday ?
    assert set(types[5:]) == {1}
    assert batch.input_ids.shape == (1, 16)  # the long passage was cut, not the question


def test_a_passage_is_shown_with_its_section_and_without_repeated_whitespace() -> None:
    assert passage_text("Shop > Opening hours", "Open  9-6,\nTuesday to Saturday.") == (
        "Opening hours: Open 9-6, Tuesday to Saturday."
    )
    assert passage_text("", "Just text.") == "Just text."


def test_missing_weights_name_the_script_that_rebuilds_them(tmp_path: Path) -> None:
    with pytest.raises(ClassifierLoadError, match=r"train_answerability\.py"):
        AnswerabilityJudge.load(tmp_path)


def test_without_its_weights_the_judge_is_left_out_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert load_judge(True, tmp_path) is None
    assert "retrieval alone" in caplog.text
    assert load_judge(False) is None


def test_the_training_recipe_builds_a_judge_that_loads(tmp_path: Path) -> None:
    rows = [
        {"domain": domain, "heading": "Hours", "passage": HOURS, "question": question, "answers": answers, "kind": "x"}
        for domain in ("a", "b")
        for question, answers in (("When are you open?", True), ("Who owns the shop?", False))
    ]
    data = tmp_path / "pairs.jsonl"
    data.write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
    out = tmp_path / "weights"
    script = ROOT / "scripts" / "train_answerability.py"
    subprocess.run(
        [sys.executable, str(script), "--data", str(data), "--out", str(out), "--epochs", "1", "--cv", "2"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    metadata = json.loads((out / METADATA_FILE).read_text(encoding="utf-8"))
    assert metadata["pairs"] == 4 and metadata["cv"]["grouped_by"] == "business"
    assert (out / LAYERS_FILE).stat().st_size > 1_000_000
    assert len(AnswerabilityJudge.load(out).logits("When are you open?", [HOURS])) == 1


def test_damaged_metadata_is_a_load_error_naming_the_file(tmp_path: Path) -> None:
    shutil.copy(default_weights_dir() / LAYERS_FILE, tmp_path / LAYERS_FILE)
    (tmp_path / METADATA_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(ClassifierLoadError, match=METADATA_FILE):
        AnswerabilityJudge.load(tmp_path)
    assert load_judge(True, tmp_path) is None
