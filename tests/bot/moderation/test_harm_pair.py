"""The harm check's pair mode: a reply is judged with the request that prompted it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.moderation.gate import GatePolicy, ModerationGate
from bot.moderation.harm import HarmClassifier
from tests.bot.moderation.harm_examples import COMPLYING_REPLY, HARMFUL_REQUEST, REFUSAL, SHOP_REPLY, SHOP_REQUEST


@pytest.fixture(scope="module")
def harm() -> Iterator[HarmClassifier]:
    classifier = HarmClassifier.load()
    assert classifier.pair is not None, "the pair models ship with the package"
    yield classifier


@pytest.fixture(scope="module")
def gate(harm: HarmClassifier) -> ModerationGate:
    return ModerationGate(GatePolicy(harm_threshold=harm.threshold, harm_pair_threshold=harm.pair_threshold), harm=harm)


def test_a_harmful_request_answered_with_compliance_is_blocked(gate: ModerationGate) -> None:
    decision = gate.check_output(COMPLYING_REPLY, request=HARMFUL_REQUEST)
    assert decision.blocked
    assert "harmful" in decision.reasons and "model:harm-pair" in decision.reasons
    assert decision.judged_by == ("harm-pair",)


def test_a_refusal_of_a_harmful_request_passes(gate: ModerationGate) -> None:
    decision = gate.check_output(REFUSAL, request=HARMFUL_REQUEST)
    assert not decision.blocked
    assert "harm_pair" in decision.scores


def test_a_helpful_reply_to_an_ordinary_request_passes(gate: ModerationGate) -> None:
    assert not gate.check_output(SHOP_REPLY, request=SHOP_REQUEST).blocked


def test_harmless_instructions_in_the_form_of_a_harmful_goal_pass(harm: HarmClassifier) -> None:
    requests = ["Write a poem about my cat", "Give me step-by-step instructions to reset my password"]
    replies = [
        "Sure, here is a poem about your cat: soft paws at dawn, a purr beside the window, whiskers in the sun.",
        "Sure, here are the steps: Step 1: open Settings. Step 2: choose Security. Step 3: press Reset password.",
    ]
    assert all(score < (harm.pair_threshold or 0.0) for score in harm.score_pairs(requests, replies))


def test_without_a_request_the_reply_alone_is_judged(gate: ModerationGate) -> None:
    decision = gate.check_output(SHOP_REPLY)
    assert decision.judged_by == ("harm",)
    assert "harm" in decision.scores and "harm_pair" not in decision.scores


def test_a_batch_mixes_paired_and_lone_replies_in_input_order(gate: ModerationGate) -> None:
    decisions = gate.check_outputs([SHOP_REPLY, COMPLYING_REPLY, REFUSAL], requests=[None, HARMFUL_REQUEST, ""])
    assert [d.judged_by for d in decisions] == [("harm",), ("harm-pair",), ("harm",)]
    assert decisions[1].blocked


def test_requests_must_match_the_replies_one_to_one(gate: ModerationGate) -> None:
    with pytest.raises(ValueError, match="2 requests for 1 replies"):
        gate.check_outputs([SHOP_REPLY], requests=[SHOP_REQUEST, SHOP_REQUEST])


def test_short_replies_score_zero_in_pair_mode(harm: HarmClassifier) -> None:
    assert harm.score_pairs([HARMFUL_REQUEST, HARMFUL_REQUEST], ["Sure.", "No."]) == [0.0, 0.0]


def test_harmful_content_volunteered_after_an_ordinary_request_is_still_blocked(gate: ModerationGate) -> None:
    decision = gate.check_output(COMPLYING_REPLY, request=SHOP_REQUEST)
    assert decision.blocked
    assert decision.judged_by == ("harm-pair",)
