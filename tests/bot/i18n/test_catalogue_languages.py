"""Every catalogue language has the whole small-talk set and every fixed text; each text reads as its own language;
a language without a catalogue gets English."""

from __future__ import annotations

import re

import pytest

from bot.i18n import FIXED_TEXT_LANGUAGES
from bot.language import detect_language
from bot.policy.small_talk import SmallTalkSet
from bot.prompts import BUNDLED_PROMPTS_DIR, PromptLibrary

# The texts a person must get in their own language: decline with the offer of a person, handoff, refusal,
# busy, error, help, and the rest of what the bot says to members.
REQUIRED_TEXTS = tuple(sorted(path.stem for path in (BUNDLED_PROMPTS_DIR / "de").glob("*.md")))
CORE_TEXTS = ("kb_decline", "handoff_user", "refusal", "busy", "error", "help", "cannot_help", "self_harm_support")


def test_the_required_texts_include_the_core_ones() -> None:
    assert set(CORE_TEXTS) <= set(REQUIRED_TEXTS)


@pytest.mark.parametrize("language", [code for code in FIXED_TEXT_LANGUAGES if code != "en"])
def test_every_catalogue_language_has_every_required_text(language: str) -> None:
    missing = [name for name in REQUIRED_TEXTS if not (BUNDLED_PROMPTS_DIR / language / f"{name}.md").is_file()]
    assert missing == []


@pytest.mark.parametrize("language", FIXED_TEXT_LANGUAGES)
def test_every_catalogue_language_has_every_kind_of_small_talk(language: str) -> None:
    small_talk = SmallTalkSet.load()
    english = {kind.name for kind in small_talk.kinds if kind.language == "en"}
    assert {kind.name for kind in small_talk.kinds if kind.language == language} == english


@pytest.mark.parametrize("language", FIXED_TEXT_LANGUAGES)
def test_small_talk_replies_use_only_the_names_the_bot_fills_in(language: str) -> None:
    for kind in SmallTalkSet.load().kinds:
        if kind.language == language:
            for reply in kind.replies:
                assert set(re.findall(r"{(\w+)}", reply)) <= {"bot_name", "community_name"}, reply


@pytest.mark.parametrize("language", FIXED_TEXT_LANGUAGES)
def test_small_talk_replies_read_as_their_own_language(language: str) -> None:
    small_talk = SmallTalkSet.load()
    replies = [
        reply.replace("{bot_name}", "Sam").replace("{community_name}", "the Corner Shop")
        for kind in small_talk.kinds
        if kind.language == language
        for reply in kind.replies
        if len(reply.split()) >= 3  # "Prego!", "De nada!": too short for any detector to judge
    ]
    detected = [detect_language(reply).code for reply in replies]
    assert detected.count(language) / len(detected) >= 0.95, list(zip(replies, detected, strict=True))


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("こんにちは！", "ja"),
        ("お元気ですか？", "ja"),
        ("안녕하세요", "ko"),
        ("고맙습니다!", "ko"),
        ("السلام عليكم", "ar"),
        ("شكرا جزيلا", "ar"),
        ("Привет! Как дела?", "ru"),
        ("नमस्ते, आप कैसे हैं?", "hi"),
        ("Hoi, hoe gaat het?", "nl"),
        ("Merhaba, nasılsınız?", "tr"),
        ("Cześć, co słychać?", "pl"),
        ("Dziękuję bardzo!", "pl"),
    ],
)
def test_greetings_and_thanks_in_the_new_languages_match_their_own_file(text: str, language: str) -> None:
    match = SmallTalkSet.load().match(text)
    assert match is not None and match.strong, text
    assert language in match.example_languages


def test_a_language_without_a_catalogue_gets_the_english_small_talk_and_fixed_texts() -> None:
    small_talk = SmallTalkSet.load()
    assert not small_talk.has_language("sw")
    assert small_talk.reply("greeting", "sw", 0) == small_talk.reply("greeting", "en", 0)
    library = PromptLibrary()
    assert library.render_in("sw", "kb_decline") == library.render("kb_decline")
