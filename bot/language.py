"""Which language a text is in: one offline detector shared by the turn policy, the fixed texts and the gate.

Built on lingua (models ship inside its wheel; nothing is downloaded). Short chat texts ("hi", "ok") carry too
little signal for any detector, so a guess says whether it is `reliable`; callers fall back to the conversation's
last reliable language or to the configured default.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lingua import LanguageDetector as LinguaDetector

# ISO 639-1 codes the detector chooses among: the six every fixed text exists in first, then other common ones.
DEFAULT_LANGUAGES: tuple[str, ...] = (
    "en", "zh", "es", "fr", "de", "pt", "it", "nl", "ru", "ja", "ko", "ar", "hi", "tr", "pl",
)  # fmt: skip

_NOISE = re.compile(r"https?://\S+|<@!?\d+>|@\w+|#\w+|[\d_]+")


@dataclass(frozen=True)
class LanguageGuess:
    """A detected language: ISO 639-1 `code`, the detector's `confidence` (0-1), and whether to trust it."""

    code: str
    confidence: float
    reliable: bool


def _script_language(text: str) -> str | None:
    """Japanese, Korean and Chinese are told apart by script alone, more surely than by n-grams."""
    kana = hangul = han = 0
    for char in text:
        name = unicodedata.name(char, "")
        if name.startswith(("HIRAGANA", "KATAKANA")):
            kana += 1
        elif name.startswith("HANGUL"):
            hangul += 1
        elif name.startswith("CJK UNIFIED"):
            han += 1
    if kana:
        return "ja"
    if hangul:
        return "ko"
    if han:
        return "zh"
    return None


class LanguageDetector:
    """Detects the language of chat messages among a fixed set of languages, offline and in well under 1 ms."""

    def __init__(
        self,
        languages: Sequence[str] = DEFAULT_LANGUAGES,
        default: str = "en",
        min_confidence: float = 0.5,
        min_margin: float = 0.05,
    ) -> None:
        self.languages = tuple(languages)
        self.default = default
        self.min_confidence = min_confidence
        self.min_margin = min_margin
        self._detector: LinguaDetector | None = None
        self._lock = threading.Lock()

    def _lingua(self) -> LinguaDetector:
        with self._lock:
            if self._detector is None:
                from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

                chosen = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in self.languages]
                self._detector = LanguageDetectorBuilder.from_languages(*chosen).build()
            return self._detector

    def warm_up(self) -> None:
        """Load the n-gram models now (about 2 s) instead of on the first message."""
        self._lingua().compute_language_confidence_values("warm up the language models")

    def detect(self, text: str) -> LanguageGuess:
        """Guess the language of `text`; unreliable guesses name the default language."""
        cleaned = _NOISE.sub(" ", text)
        scripted = _script_language(cleaned)
        if scripted is not None and scripted in self.languages:
            return LanguageGuess(scripted, 1.0, True)
        letters = sum(char.isalpha() for char in cleaned)
        if letters < 2:
            return LanguageGuess(self.default, 0.0, False)
        values = self._lingua().compute_language_confidence_values(cleaned)
        if not values:
            return LanguageGuess(self.default, 0.0, False)
        top = values[0]
        second = values[1].value if len(values) > 1 else 0.0
        code = top.language.iso_code_639_1.name.lower()
        reliable = top.value >= self.min_confidence or (letters >= 4 and top.value - second >= self.min_margin)
        if not reliable:
            return LanguageGuess(self.default, top.value, False)
        return LanguageGuess(code, top.value, True)

    def detect_many(self, texts: Iterable[str]) -> list[LanguageGuess]:
        """`detect` for each text, in order."""
        return [self.detect(text) for text in texts]


@lru_cache(maxsize=1)
def default_detector() -> LanguageDetector:
    """The process-wide detector over `DEFAULT_LANGUAGES` (models load lazily, once)."""
    return LanguageDetector()


def detect_language(text: str) -> LanguageGuess:
    """Shortcut for `default_detector().detect(text)`."""
    return default_detector().detect(text)
