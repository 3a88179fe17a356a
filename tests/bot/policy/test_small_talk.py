"""The curated small-talk set: loose matching in six languages, never swallowing a real question."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.policy.small_talk import SmallTalkFileError, SmallTalkSet


@pytest.fixture(scope="module")
def small_talk() -> SmallTalkSet:
    return SmallTalkSet.load().with_names("Sam")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("hi", "greeting"),
        ("hiii!!", "greeting"),
        ("Hey there, how are you today?", "how_are_you"),
        ("How's your day going?", "how_are_you"),
        ("What's your name?", "who_are_you"),
        ("Thnaks a lot", "thanks"),
        ("good morning Sam", "greeting"),
        ("I'm fine, and you?", "how_are_you"),
        ("¿Qué tal?", "how_are_you"),
        ("Bonjour, ça va ?", "how_are_you"),
        ("Vielen Dank!", "thanks"),
        ("olá, tudo bem?", "how_are_you"),
        ("你好吗？", "how_are_you"),
        ("😂", "laugh"),
    ],
)
def test_small_talk_in_any_of_the_six_languages_matches_its_kind(
    small_talk: SmallTalkSet, text: str, kind: str
) -> None:
    match = small_talk.match(text)
    assert match is not None and match.strong, text
    assert match.kind == kind


@pytest.mark.parametrize(
    "text",
    [
        "hi, do you deliver?",
        "hello, what are your opening hours?",
        "How much does delivery cost?",
        "Are you open on Mondays?",
        "Can you help me cancel my order?",
        "hola, ¿cuánto cuesta el envío?",
    ],
)
def test_a_greeting_or_a_polite_opening_does_not_hide_a_question(small_talk: SmallTalkSet, text: str) -> None:
    match = small_talk.match(text)
    assert match is None or not match.strong, text


def test_the_reply_is_in_the_persons_language_and_varies_through_a_conversation(small_talk: SmallTalkSet) -> None:
    spanish = {small_talk.reply("greeting", "es", turn) for turn in range(4)}
    assert len(spanish) > 1 and all("Hola" in reply for reply in spanish)
    assert "Sam" in small_talk.reply("who_are_you", "fr", 0, bot_name="Sam", community_name="x")
    assert small_talk.reply("greeting", "it", 0).startswith("Ciao")
    assert small_talk.reply("joke", "it", 0).startswith("Perché")
    assert small_talk.reply("joke", "sw", 0).startswith("Why")  # no Swahili file: English


def test_an_owner_file_replaces_the_bundled_one(tmp_path: Path) -> None:
    (tmp_path / "small_talk").mkdir()
    (tmp_path / "small_talk" / "en.toml").write_text(
        '[greeting]\nexamples = ["ahoy"]\nreplies = ["Ahoy, matey!"]\n', encoding="utf-8"
    )
    owned = SmallTalkSet.load([tmp_path])
    match = owned.match("Ahoy!")
    assert match is not None and match.kind == "greeting"
    assert owned.reply("greeting", "en", 0) == "Ahoy, matey!"
    assert owned.match("hola") is not None  # the other languages' files are still the bundled ones


def test_a_broken_small_talk_file_is_an_error_naming_file_and_table(tmp_path: Path) -> None:
    (tmp_path / "small_talk").mkdir()
    (tmp_path / "small_talk" / "en.toml").write_text('[greeting]\nexamples = ["hi"]\n', encoding="utf-8")
    with pytest.raises(SmallTalkFileError, match=r"en\.toml: \[greeting\] needs"):
        SmallTalkSet.load([tmp_path])
