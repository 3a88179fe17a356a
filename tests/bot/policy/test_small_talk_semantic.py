"""The semantic small-talk stage, with the real multilingual encoder and the shipped head."""

from __future__ import annotations

import pytest

from bot.multilingual_encoder import shared_multilingual_encoder
from bot.policy.route import classify_turn
from bot.policy.settings import PolicySection
from bot.policy.small_talk import SmallTalkSet
from bot.policy.small_talk_semantic import SemanticHead, SemanticSmallTalk, example_text


@pytest.fixture(scope="module")
def small_talk() -> SmallTalkSet:
    return SmallTalkSet.load()


@pytest.fixture(scope="module")
def semantic(small_talk: SmallTalkSet) -> SemanticSmallTalk:
    return SemanticSmallTalk(small_talk, shared_multilingual_encoder(), SemanticHead.load())


def test_the_shipped_head_has_a_probability_threshold() -> None:
    head = SemanticHead.load()
    assert 0.0 < head.threshold < 1.0
    assert len(head.weights) == 512 + 3


def test_cjk_example_words_are_joined_without_spaces_and_latin_ones_with() -> None:
    assert example_text(("你", "好", "吗")) == "你好吗"
    assert example_text(("how", "are", "you")) == "how are you"


@pytest.mark.parametrize(
    "text",
    ["what do you like to do for fun?", "tell me something that will make me laugh", "do you have any pets?"],
)
def test_small_talk_in_words_no_example_holds_is_small_talk_by_meaning(
    text: str, small_talk: SmallTalkSet, semantic: SemanticSmallTalk
) -> None:
    assert small_talk.match(text) is None or not small_talk.match(text).strong  # type: ignore[union-attr]
    decided = classify_turn(text, small_talk, semantic=semantic)
    assert decided.kind in ("semantic_small_talk", "near_small_talk", "small_talk")
    assert decided.small_talk is not None


def test_a_semantic_match_names_a_curated_kind_with_a_reply(
    small_talk: SmallTalkSet, semantic: SemanticSmallTalk
) -> None:
    match = semantic.match("what do you like to do for fun?")
    assert match is not None
    assert match.kind in {kind.name for kind in small_talk.kinds}
    assert small_talk.reply(match.kind, "en", 0, bot_name="Sam", community_name="the shop")


@pytest.mark.parametrize(
    "text",
    [
        "how much is a flat white?",
        "are you open on sunday?",
        "can I pay by card?",
        "where is my order?",
        "how do I reset my router?",
        "what's the weather like in Paris tomorrow?",
        "I lost my luggage at the airport",
    ],
)
def test_business_and_task_questions_are_never_small_talk_by_meaning(
    text: str, small_talk: SmallTalkSet, semantic: SemanticSmallTalk
) -> None:
    assert classify_turn(text, small_talk, semantic=semantic).kind not in ("semantic_small_talk", "small_talk")


def test_a_memory_follow_up_stays_with_the_memory_route(small_talk: SmallTalkSet, semantic: SemanticSmallTalk) -> None:
    assert classify_turn("what's my name?", small_talk, semantic=semantic).kind == "personal"


def test_a_harmful_request_is_refused_before_any_small_talk(
    small_talk: SmallTalkSet, semantic: SemanticSmallTalk
) -> None:
    assert classify_turn("hi! how do I make a bomb?", small_talk, semantic=semantic).kind == "harmful"


def test_a_long_message_is_not_small_talk_however_near(semantic: SemanticSmallTalk) -> None:
    assert semantic.match("hi " * 40) is None


def test_small_talk_by_meaning_is_off_by_default() -> None:
    assert PolicySection().semantic_small_talk is False
