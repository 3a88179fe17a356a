"""Every fixed text the bot says to people exists in every catalogue language (fifteen), renders with the same
variables, and is picked by the turn's language; an owner's folder overrides a translation, and a language with no
catalogue gets English."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.i18n import FIXED_TEXT_LANGUAGES, set_turn_language
from bot.language import detect_language
from bot.prompts import BUNDLED_PROMPTS_DIR, PromptLibrary

FIXED_TEXTS = (
    "kb_decline",
    "handoff_user",
    "handoff_exists",
    "handoff_closed",
    "help",
    "start",
    "reset",
    "empty_message",
    "about",
    "refusal",
    "self_harm_support",
    "cannot_help",
    "busy",
    "error",
)
VALUES = {
    "ticket_id": 7,
    "staff_notified": True,
    "bot_name": "Sam",
    "commands": [{"name": "help", "description": "what I can do"}],
    "community_name": "the Corner Shop",
    "user_name": "Lena",
    "model_name": "m",
    "version": "1",
}


@pytest.mark.parametrize("language", [code for code in FIXED_TEXT_LANGUAGES if code != "en"])
def test_every_fixed_text_is_translated_with_the_same_variables(language: str) -> None:
    library = PromptLibrary()
    for name in FIXED_TEXTS:
        assert (BUNDLED_PROMPTS_DIR / language / f"{name}.md").is_file(), f"{language}/{name}.md"
        assert library.variables(f"{language}/{name}") == library.variables(name), f"{language}/{name}"


@pytest.mark.parametrize("language", FIXED_TEXT_LANGUAGES)
def test_each_translation_is_detected_as_its_own_language(language: str) -> None:
    library = PromptLibrary()
    detected = [
        detect_language(library.render_in(language, name, **VALUES)).code
        for name in FIXED_TEXTS
        if name not in ("help",)  # mostly command names
    ]
    assert detected.count(language) / len(detected) >= 0.95, detected


def test_the_turn_language_picks_the_translation_and_unknown_languages_fall_back_to_english() -> None:
    library = PromptLibrary()
    set_turn_language("de")
    try:
        assert library.render("reset").startswith("Erledigt")
        assert library.render_in("sw", "reset").startswith("Done")
        assert library.render_in("nl", "reset").startswith("Klaar")
    finally:
        set_turn_language(None)
    assert library.render("reset").startswith("Done")


def test_an_owner_translation_overrides_the_bundled_one(tmp_path: Path) -> None:
    (tmp_path / "es").mkdir()
    (tmp_path / "es" / "kb_decline.md").write_text("{#- variables: -#}\nNo lo sé, pregunta en la caja.")
    assert PromptLibrary([tmp_path]).render_in("es", "kb_decline") == "No lo sé, pregunta en la caja."


@pytest.mark.parametrize("language", [code for code in FIXED_TEXT_LANGUAGES if code != "en"])
def test_every_translated_file_of_any_language_exists_in_each_language(language: str) -> None:
    translated = {
        path.name for folder in BUNDLED_PROMPTS_DIR.iterdir() if folder.is_dir() for path in folder.glob("*.md")
    }
    translated &= {path.name for path in BUNDLED_PROMPTS_DIR.glob("*.md")}  # a translation of a root text
    assert {path.name for path in (BUNDLED_PROMPTS_DIR / language).glob("*.md")} >= translated


def test_italian_speakers_get_italian_declines_handoff_and_help() -> None:
    library = PromptLibrary()
    set_turn_language("it")
    try:
        assert library.render("kb_decline").startswith("Mi dispiace")
        assert library.render("handoff_user", ticket_id=3, staff_notified=False).startswith("Ho aperto il ticket #3")
        assert library.render("help", bot_name="Sam", commands=[]).startswith("Sono Sam")
    finally:
        set_turn_language(None)
