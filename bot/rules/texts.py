"""The fixed texts this feature says to members, from the prompt catalogue (prompts/<language>/), in every
language the catalogue ships (admin replies stay English)."""

from __future__ import annotations

from functools import cache

from bot.i18n import FIXED_TEXT_LANGUAGES
from bot.prompts import PromptLibrary

LANGUAGES: tuple[str, ...] = FIXED_TEXT_LANGUAGES


@cache
def _catalogue() -> PromptLibrary:
    return PromptLibrary()


def fixed_text(language: str, key: str, **values: str) -> str:
    """The text `key` (`rate_limited_user`, `rate_limited_chat`, `busy`, `error`) in `language`, English when
    the catalogue has no translation."""
    return _catalogue().render_in(language, key, **values)
