"""`socialbot eval conversation`: the set is well formed, and a small run through the whole bot reports every
figure."""

from __future__ import annotations

from collections import Counter

from bot.config import load_config
from bot.evaluation.conversation import (
    BLIND3_FILE,
    BLIND4_FILE,
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


def test_the_third_blind_set_covers_every_category_in_eleven_languages() -> None:
    items = load_conversations(BLIND3_FILE)
    assert len(items) == 120 and {item.split for item in items} == {"blind3"}
    assert {item.category for item in items} == set(CATEGORIES)
    assert {"en", "es", "fr", "de", "pt", "zh", "it", "nl", "ja", "ru", "ar"} <= {item.language for item in items}
    assert all(item.must_contain for item in items if item.category in ("kb_answerable", "memory"))


def test_the_fourth_blind_set_covers_every_category_in_thirteen_languages() -> None:
    items = load_conversations(BLIND4_FILE)
    assert len(items) == 120 and {item.split for item in items} == {"blind4"}
    assert {item.category for item in items} == set(CATEGORIES)
    assert {"en", "es", "fr", "de", "pt", "zh", "it", "nl", "ja", "ru", "ar", "tr", "pl"} <= {
        item.language for item in items
    }
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


PROBE2_FILE = PROBE_FILE.parent / "probes2.jsonl"


def test_the_second_probe_set_is_told_apart_as_its_categories_say() -> None:
    """probes2 ("probe2"): 80 messages written without reading the other sets, run once before any fix; the fixes
    looked at them, so they are a regression set. Harmful requests are refused by their words alone, memory
    follow-ups are recognised and the fact they ask for was kept from the earlier turns, and the "other" messages
    (opinions, jokes, sums, general knowledge) are neither refused nor taken for memory questions."""
    from bot.memory.extraction import extract_facts

    small_talk = SmallTalkSet.load()
    probes = [item for item in load_conversations(PROBE2_FILE) if item.split == "probe2"]
    assert len(probes) == 80 and {"en", "es", "fr", "de", "pt", "it", "zh"} <= {item.language for item in probes}
    for item in probes:
        kind = classify_turn(item.text, small_talk).kind
        if item.category == "harmful":
            assert kind == "harmful", item.text
        elif item.category == "memory":
            question = memory_question(item.text)
            assert question is not None, item.text
            kept = [
                fact.value for earlier in item.before for fact in extract_facts(earlier) if fact.kind == question.kind
            ]
            assert kept and all(value in kept[-1] for value in item.must_contain), item.text
        elif item.category == "other":
            assert kind not in ("harmful", "self_harm", "personal") and memory_question(item.text) is None, item.text
        else:
            assert kind in ("small_talk", "near_small_talk", "other"), item.text


def test_the_items_written_after_the_fixes_are_kept_apart_and_well_formed() -> None:
    """probes2 ("probe2-after"): 30 more, written after the fixes and run once to see whether they generalised
    (README, Turn policy figures); nothing was changed for them."""
    fresh = [item for item in load_conversations(PROBE2_FILE) if item.split == "probe2-after"]
    assert len(fresh) == 30
    assert {item.category for item in fresh} == {"harmful", "memory", "other", "small_talk"}
    assert all(item.must_contain and item.before for item in fresh if item.category == "memory")
