"""Every fixed text the bot says to people exists in the six languages, renders with the same variables, and is
picked by the turn's language; an owner's folder overrides a translation."""

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
        assert library.render_in("it", "reset").startswith("Done")
    finally:
        set_turn_language(None)
    assert library.render("reset").startswith("Done")


def test_an_owner_translation_overrides_the_bundled_one(tmp_path: Path) -> None:
    (tmp_path / "es").mkdir()
    (tmp_path / "es" / "kb_decline.md").write_text("{#- variables: -#}\nNo lo sé, pregunta en la caja.")
    assert PromptLibrary([tmp_path]).render_in("es", "kb_decline") == "No lo sé, pregunta en la caja."
