"""Per-language word lists: how the gate judges languages no trained classifier covers.

The shipped lists (``wordlists/<code>.txt``) hold common insults and slurs; an owner extends them with a folder
of their own ``<code>.txt`` files or inline words in config. Matching is on whole words, ignoring case and accents.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path

import re2

SHIPPED_WORD_LIST_DIR = Path(__file__).resolve().parent / "wordlists"
_LANGUAGE_FILE = re.compile(r"^[a-z]{2,3}$")


class WordListError(ValueError):
    """Raised when a configured word-list folder or file cannot be used (names the path and why)."""


def fold(text: str) -> str:
    """Lower case without accents: the form both the lists and the texts are compared in."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def read_word_file(path: Path) -> list[str]:
    """The words of one list file (blank lines and # comments skipped)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise WordListError(f"{path}: cannot read word list: {error}") from error
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def read_word_dir(directory: Path) -> dict[str, list[str]]:
    """``<code>.txt`` files of a folder, by language code."""
    if not directory.is_dir():
        raise WordListError(f"{directory}: word_list_dir is not a folder")
    return {
        path.stem: read_word_file(path) for path in sorted(directory.glob("*.txt")) if _LANGUAGE_FILE.match(path.stem)
    }


class WordLists:
    """Compiled per-language lists; ``match`` returns the first listed word found in a text, or None."""

    def __init__(self, words_by_language: Mapping[str, Iterable[str]]) -> None:
        self._patterns: dict[str, re2._Regexp] = {}
        for language, words in words_by_language.items():
            folded = sorted({fold(word) for word in words if word.strip()}, key=len, reverse=True)
            if folded:
                alternatives = "|".join(re.escape(word) for word in folded)
                self._patterns[language] = re2.compile(r"(?:^|[^\w])(" + alternatives + r")(?:$|[^\w])")

    @classmethod
    def load(cls, extra_dir: Path | None = None, extra_words: Mapping[str, Iterable[str]] | None = None) -> WordLists:
        """The shipped lists, plus an owner's folder and inline words (they add to, never replace, the lists)."""
        merged: dict[str, list[str]] = read_word_dir(SHIPPED_WORD_LIST_DIR)
        for source in (read_word_dir(extra_dir) if extra_dir else {}, extra_words or {}):
            for language, words in source.items():
                merged.setdefault(language, []).extend(words)
        return cls(merged)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self._patterns))

    def covers(self, language: str) -> bool:
        return language in self._patterns

    def match(self, language: str, text: str) -> str | None:
        pattern = self._patterns.get(language)
        if pattern is None:
            return None
        found = pattern.search(fold(text))
        return found.group(1) if found else None
