"""The language of the turn being answered, so every fixed text (declines, handoff, help, errors) is rendered in it.

The turn policy decides a turn's language once, before commands run, and sets it here; `PromptLibrary.render`
then picks `prompts/<language>/<name>.md` over `prompts/<name>.md`. The context variable belongs to the task that
handles the turn, so concurrent conversations never see each other's language.
"""

from __future__ import annotations

from contextvars import ContextVar

# Every fixed text ships in these languages (prompts/<code>/), and small talk too (prompts/small_talk/<code>.toml);
# others fall back to the root (English) files.
FIXED_TEXT_LANGUAGES: tuple[str, ...] = (
    "en", "zh", "es", "fr", "de", "pt", "it", "nl", "ru", "ja", "ko", "ar", "hi", "tr", "pl",
)  # fmt: skip

LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "zh": "Chinese",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "pt": "Portuguese",
    "it": "Italian",
    "nl": "Dutch",
    "ru": "Russian",
    "ja": "Japanese",
    "ko": "Korean",
    "ar": "Arabic",
    "hi": "Hindi",
    "tr": "Turkish",
    "pl": "Polish",
}

_turn_language: ContextVar[str | None] = ContextVar("socialbot_turn_language", default=None)


def current_language() -> str | None:
    """The language of the turn being handled in this task, or None outside a turn."""
    return _turn_language.get()


def set_turn_language(code: str | None) -> None:
    """Set the language fixed texts are rendered in for the rest of this task's turn."""
    _turn_language.set(code)


def language_name(code: str) -> str:
    """The English name of a language code, for prompts ("Answer in Spanish")."""
    return LANGUAGE_NAMES.get(code, code)
