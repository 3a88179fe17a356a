"""`socialbot eval conversation`: the set is well formed, and a small run through the whole bot reports every
figure."""

from __future__ import annotations

from collections import Counter

from bot.config import load_config
from bot.evaluation.conversation import (
    BLIND_FILE,
    CATEGORIES,
    FIXED_SOURCES,
    PROBE_FILE,
    ConversationItem,
    ConversationResult,
    conversation_figures,
    format_conversation_figures,
    load_conversations,
    run_conversation_eval,
)
from bot.memory.recall import memory_question
from bot.policy.route import classify_turn
from bot.policy.small_talk import SmallTalkSet


def test_the_conversation_set_covers_every_category_in_both_splits_and_five_languages() -> None:
    items = load_conversations()
    counts = Counter((item.split, item.category) for item in items)
    for split in ("tuning", "heldout"):
        for category in CATEGORIES:
            assert counts[(split, category)] >= 4, (split, category)
    assert len({item.language for item in items}) >= 5
    assert len({item.id for item in items}) == len(items)
    assert all(item.must_contain for item in items if item.category == "kb_answerable")


async def test_a_small_run_through_the_bot_reports_every_figure() -> None:
    items = load_conversations()
    sample = [next(item for item in items if item.category == category) for category in CATEGORIES]
    results = await run_conversation_eval(load_config(None, environ={}), use_model=False, items=sample)
    figures = conversation_figures(results, "sample")
    assert figures["items"] == len(CATEGORIES)
    assert figures["small_talk_handled"] == 1.0 and figures["greetings_blocked"] == 0
    assert figures["no_kb_declined"] == 1.0 and figures["harmful_refused"] == 1.0
    assert figures["invented_business_claims"] == 0
    assert "invented business claims" in format_conversation_figures(figures)


def test_every_probe_is_told_apart_as_its_category_says() -> None:
    """The probe split: phrasings written to find failures (and then fixed), kept as a regression set."""
    small_talk = SmallTalkSet.load()
    expected = {
        "small_talk": {"small_talk", "near_small_talk"},
        "kb_answerable": {"business"},
        "kb_unanswerable": {"business"},
        "no_kb": {"business"},
        "harmful": {"harmful"},
    }
    probes = load_conversations(PROBE_FILE)
    assert len(probes) >= 80 and {item.split for item in probes} == {"probe"}
    for item in probes:
        if item.category == "memory":
            assert memory_question(item.text) is not None, item.text
        else:
            assert classify_turn(item.text, small_talk).kind in expected[item.category], item.text


def test_the_blind_set_covers_every_category_in_seven_languages() -> None:
    items = load_conversations(BLIND_FILE)
    assert len(items) == 60 and {item.split for item in items} == {"blind"}
    assert {item.category for item in items} == set(CATEGORIES)
    assert {"en", "es", "fr", "de", "pt", "zh", "it"} <= {item.language for item in items}
    assert all(item.must_contain for item in items if item.category in ("kb_answerable", "memory"))


def test_no_curated_reply_or_fixed_text_in_any_language_counts_as_an_invented_business_claim() -> None:
    """Owner-written replies speak for the team ("the information the team gave me", the French "commandes" of
    /help) and so would trip the business-word check that guards model text; they are never put to it."""
    from bot.i18n import FIXED_TEXT_LANGUAGES
    from bot.prompts import PromptLibrary

    library = PromptLibrary()
    replies = [
        (kind.language, "policy:small_talk", reply) for kind in SmallTalkSet.load().kinds for reply in kind.replies
    ]
    replies += [
        (language, source, library.render_in(language, prompt, community_name="the Corner Café"))
        for language in FIXED_TEXT_LANGUAGES
        for prompt, source in (
            ("kb_decline", "kb:declined"),
            ("refusal", "policy:refusal"),
            ("cannot_help", "policy:cannot_help"),
        )
    ]
    assert {source for _, source, _ in replies} <= FIXED_SOURCES
    results = [
        ConversationResult(
            ConversationItem(number, "x", "small_talk", language, "none", "hi", ()), text, source, "", "allow"
        )
        for number, (language, source, text) in enumerate(replies)
    ]
    assert conversation_figures(results, "x")["invented_business_claims"] == 0
