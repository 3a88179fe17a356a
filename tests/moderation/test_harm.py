"""The harm check on bot replies and its hand-written data sets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.moderation.harm import HarmClassifier, HarmLoadError, is_plain_refusal

DATA_DIR = Path(__file__).resolve().parents[2] / "bot" / "moderation" / "data"


@pytest.fixture(scope="module")
def harm() -> Iterator[HarmClassifier]:
    yield HarmClassifier.load()


def test_a_compliant_harmful_reply_is_flagged(harm: HarmClassifier) -> None:
    reply = "Sure! Here's how to make a pipe bomb: first get a metal pipe and two end caps, then fill it with ..."
    assert harm.is_harmful(reply)


def test_a_phishing_template_is_flagged(harm: HarmClassifier) -> None:
    reply = (
        "Here is a phishing email you can send to get their bank login: Dear customer, your account "
        "has been locked. Confirm your password at the link below within 24 hours ..."
    )
    assert harm.is_harmful(reply)


def test_a_refusal_that_names_the_topic_is_not_flagged(harm: HarmClassifier) -> None:
    reply = "I can't help with making explosives, but if you like chemistry I can suggest some safe experiments."
    assert not harm.is_harmful(reply)


def test_an_ordinary_shop_reply_is_not_flagged(harm: HarmClassifier) -> None:
    assert not harm.is_harmful("Your order has shipped and should arrive on Thursday. Thanks for shopping with us!")


def test_scores_are_deterministic_probabilities(harm: HarmClassifier) -> None:
    texts = ["Happy birthday!", "Sure, here's a keylogger that hides from antivirus: import ..."]
    scores = harm.score_batch(texts)
    assert all(0.0 <= score <= 1.0 for score in scores)
    assert harm.score_batch(texts) == scores
    assert harm.score_batch([]) == []


def test_a_refusal_that_then_complies_is_not_a_plain_refusal() -> None:
    assert is_plain_refusal("I can't help with making explosives, but I can suggest a chemistry kit.")
    assert is_plain_refusal("Sorry, I won't write malware.")
    assert not is_plain_refusal("I can't officially recommend this, but here's how to do it: step 1 ...")
    assert not is_plain_refusal("Sure! Here's how to make thermite ...")


def test_loading_from_a_directory_without_weights_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(HarmLoadError, match=r"train_harm\.py"):
        HarmClassifier.load(tmp_path)


def _records(name: str) -> list[dict[str, object]]:
    lines = (DATA_DIR / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_eval_set_is_balanced_labelled_and_separate_from_training() -> None:
    train, evaluation = _records("harm_train.jsonl"), _records("harm_eval.jsonl")
    for record in train + evaluation:
        assert set(record) == {"text", "harmful", "category"}
        assert isinstance(record["harmful"], bool)
    harmful = sum(1 for record in evaluation if record["harmful"])
    assert len(evaluation) >= 200
    assert harmful >= 100 and len(evaluation) - harmful >= 100
    assert {"refusal", "customer_service", "community"} <= {str(r["category"]) for r in evaluation}
    train_texts = {str(record["text"]).lower() for record in train}
    assert not any(str(record["text"]).lower() in train_texts for record in evaluation)
