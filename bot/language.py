"""Which language a text is in: one offline detector shared by the turn policy, the fixed texts and the gate.

Built on lingua (models ship inside its wheel; nothing is downloaded). Short chat texts ("hi", "ok") carry too
little signal for any detector, so a guess says whether it is `reliable`; callers fall back to the conversation's
last reliable language or to the configured default.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from bot.i18n.function_words import function_word_evidence, function_word_languages, tokens

if TYPE_CHECKING:
    from lingua import ConfidenceValue
    from lingua import LanguageDetector as LinguaDetector

# ISO 639-1 codes the detector chooses among: the six every fixed text exists in first, then other common ones.
DEFAULT_LANGUAGES: tuple[str, ...] = (
    "en", "zh", "es", "fr", "de", "pt", "it", "nl", "ru", "ja", "ko", "ar", "hi", "tr", "pl",
)  # fmt: skip

# Chosen on the tuning side of scripts/eval_language.py (UMSAB val, COLD dev, CLINC150 val): at 0.99 the quick
# models answered 77% of Latin-script texts, overall accuracy 0.981 -> 0.979 until the full models load.
QUICK_MARGIN = 0.99
# One incoming message is read by the gate, the turn policy, memory and sentiment: each asks about the same text,
# so the latest guesses are kept (a guess costs ~0.6 CPU-ms): this many texts, each up to _LONGEST_CACHED chars.
CACHED_GUESSES = 512
_LONGEST_CACHED = 4000

# Texts of at most this many words are "short": the n-grams of a few words are weak evidence, so function words
# ("do", "you") may overrule them, and the conversation's earlier language may too.
SHORT_WORDS = 6
# Function-word evidence (bot.i18n.function_words) that overrules the n-grams on a short text: the other
# language's share sum must reach this and beat the runner-up's by this much. Chosen on the tuning side of
# scripts/eval_language.py (short texts: Banking77 train English 0.987 -> 0.996, UMSAB val/CLINC150 val 0.963 ->
# 0.964).
FUNCTION_WORD_EVIDENCE = 1.25
FUNCTION_WORD_MARGIN = 0.5
# A short text keeps the conversation's earlier language (`prior`) when the n-grams give it at least this
# share of the top language's confidence and the function words do not favour the top language. Tuning side.
PRIOR_RATIO = 0.5

_NOISE = re.compile(r"https?://\S+|<@!?\d+>|@\w+|#\w+|[\d_]+")


@dataclass(frozen=True)
class LanguageGuess:
    """A detected language: ISO 639-1 `code`, the detector's `confidence` (0-1), and whether to trust it."""

    code: str
    confidence: float
    reliable: bool


# Letters of these scripts name the language outright among the languages that use them (checked by code
# point: faster than unicodedata names). Latin letters do not, and go to the n-gram models.
_SCRIPT_RANGES: tuple[tuple[str, int, int], ...] = (
    ("kana", 0x3040, 0x30FF),
    ("kana", 0x31F0, 0x31FF),
    ("kana", 0xFF66, 0xFF9F),
    ("hangul", 0x1100, 0x11FF),
    ("hangul", 0x3130, 0x318F),
    ("hangul", 0xAC00, 0xD7AF),
    ("han", 0x3400, 0x4DBF),
    ("han", 0x4E00, 0x9FFF),
    ("han", 0xF900, 0xFAFF),
    ("arabic", 0x0600, 0x06FF),
    ("arabic", 0x0750, 0x077F),
    ("arabic", 0xFB50, 0xFDFF),
    ("arabic", 0xFE70, 0xFEFF),
    ("cyrillic", 0x0400, 0x052F),
    ("devanagari", 0x0900, 0x097F),
    ("thai", 0x0E00, 0x0E7F),
    ("greek", 0x0370, 0x03FF),
    ("hebrew", 0x0590, 0x05FF),
    ("armenian", 0x0530, 0x058F),
    ("georgian", 0x10A0, 0x10FF),
    ("bengali", 0x0980, 0x09FF),
    ("tamil", 0x0B80, 0x0BFF),
)
# ISO 639-1 codes (of those lingua knows) written in each script.
SCRIPT_LANGUAGES: dict[str, frozenset[str]] = {
    "kana": frozenset({"ja"}),
    "hangul": frozenset({"ko"}),
    "han": frozenset({"zh", "ja"}),
    "arabic": frozenset({"ar", "fa", "ur"}),
    "cyrillic": frozenset({"ru", "uk", "bg", "be", "kk", "mk", "mn", "sr"}),
    "devanagari": frozenset({"hi", "mr"}),
    "thai": frozenset({"th"}),
    "greek": frozenset({"el"}),
    "hebrew": frozenset({"he"}),
    "armenian": frozenset({"hy"}),
    "georgian": frozenset({"ka"}),
    "bengali": frozenset({"bn"}),
    "tamil": frozenset({"ta"}),
}
_NON_LATIN = frozenset(code for codes in SCRIPT_LANGUAGES.values() for code in codes)


def _script_of(char: str) -> str | None:
    point = ord(char)
    if point < 0x0370:
        return None
    for script, low, high in _SCRIPT_RANGES:
        if low <= point <= high:
            return script
    return None


def _script_counts(text: str) -> tuple[dict[str, int], int]:
    """Letters per non-Latin script in ``text``, and the number of letters in all."""
    counts: dict[str, int] = {}
    letters = 0
    for char in text:
        if not char.isalpha():
            continue
        letters += 1
        script = _script_of(char)
        if script is not None:
            counts[script] = counts.get(script, 0) + 1
    return counts, letters


def _script_language(text: str) -> str | None:
    """Japanese, Korean and Chinese are told apart by script alone, more surely than by n-grams."""
    counts, _ = _script_counts(text)
    if counts.get("kana"):
        return "ja"
    if counts.get("hangul"):
        return "ko"
    if counts.get("han"):
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
        script_shortcuts: bool = True,
        low_accuracy: bool = False,
        quick_margin: float | None = QUICK_MARGIN,
        function_words: bool = True,
    ) -> None:
        self.languages = tuple(languages)
        self.default = default
        self.min_confidence = min_confidence
        self.min_margin = min_margin
        # A text mostly in a script that only one configured language uses is that language, without n-grams;
        # Latin-script texts are then scored among the Latin-script languages only, so only their models load.
        self.script_shortcuts = script_shortcuts
        self.low_accuracy = low_accuracy
        # Until the full models are loaded (warm_up, or a first text the quick models were unsure of), the
        # trigram-only models answer when their margin is at least this: ~0.13 CPU-s to load instead of ~3.
        self.quick_margin = None if low_accuracy else quick_margin
        # Short Latin-script texts are checked against function words (see `_short_text_language`).
        self.function_words = function_words
        self._full_models_loaded = False
        self._detectors: dict[tuple[tuple[str, ...], bool], LinguaDetector] = {}
        self._lock = threading.Lock()
        self._guesses: OrderedDict[tuple[str, str | None], LanguageGuess] = OrderedDict()
        self._guesses_lock = threading.Lock()

    def _lingua(self, languages: tuple[str, ...] | None = None, low_accuracy: bool | None = None) -> LinguaDetector:
        key = (languages or self.languages, self.low_accuracy if low_accuracy is None else low_accuracy)
        with self._lock:
            detector = self._detectors.get(key)
            if detector is None:
                from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

                chosen = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in key[0]]
                builder = LanguageDetectorBuilder.from_languages(*chosen)
                if key[1]:
                    builder = builder.with_low_accuracy_mode()
                detector = self._detectors[key] = builder.build()
            return detector

    def _confidences(self, cleaned: str, candidates: tuple[str, ...] | None) -> list[ConfidenceValue]:
        if self.quick_margin is not None and not self._full_models_loaded:
            quick = self._lingua(candidates, low_accuracy=True).compute_language_confidence_values(cleaned)
            if quick and quick[0].value - (quick[1].value if len(quick) > 1 else 0.0) >= self.quick_margin:
                return list(quick)
        values = list(self._lingua(candidates).compute_language_confidence_values(cleaned))
        self._full_models_loaded = True
        return values

    def _latin_languages(self) -> tuple[str, ...]:
        latin = tuple(code for code in self.languages if code not in _NON_LATIN)
        return latin or self.languages

    def warm_up(self) -> None:
        """Load the n-gram models a Latin-script message needs now, instead of on the first message."""
        languages = self._latin_languages() if self.script_shortcuts else self.languages
        self._lingua(languages).compute_language_confidence_values("warm up the language models")
        self._full_models_loaded = True

    def detect(self, text: str, prior: str | None = None) -> LanguageGuess:
        """Guess the language of `text`; unreliable guesses name the default language.

        `prior` is the language the conversation was in so far: a short text the n-grams cannot tell apart
        from it keeps it ("ok thanks" after French is French). The same text gets the same guess again from a
        small cache, once the full models answer (a quick model's guess is not kept: the full models may read
        that text differently later).
        """
        key = (text, prior)
        with self._guesses_lock:
            cached = self._guesses.get(key)
            if cached is not None:
                self._guesses.move_to_end(key)
                return cached
        settled = self.quick_margin is None or self._full_models_loaded
        guess = self._detect(text, prior)
        if settled and len(text) <= _LONGEST_CACHED:
            with self._guesses_lock:
                self._guesses[key] = guess
                if len(self._guesses) > CACHED_GUESSES:
                    self._guesses.popitem(last=False)
        return guess

    def forget_guesses(self) -> None:
        """Empty the cache of guesses (benchmarks time each text's detection)."""
        with self._guesses_lock:
            self._guesses.clear()

    def _detect(self, text: str, prior: str | None = None) -> LanguageGuess:
        cleaned = _NOISE.sub(" ", text)
        scripted = _script_language(cleaned)
        if scripted is not None and scripted in self.languages:
            return LanguageGuess(scripted, 1.0, True)
        counts, letters = _script_counts(cleaned)
        if letters < 2:
            return LanguageGuess(self.default, 0.0, False)
        candidates: tuple[str, ...] | None = None
        if self.script_shortcuts:
            script, in_script = max(counts.items(), key=lambda item: item[1], default=(None, 0))
            if script is not None and in_script * 2 > letters:
                written = tuple(code for code in self.languages if code in SCRIPT_LANGUAGES[script])
                if len(written) == 1:
                    return LanguageGuess(written[0], 1.0, True)
                candidates = written or None
            elif not counts:
                candidates = self._latin_languages()
        values = self._confidences(cleaned, candidates)
        if not values:
            return LanguageGuess(self.default, 0.0, False)
        confidence = {value.language.iso_code_639_1.name.lower(): value.value for value in values}
        code, top = next(iter(confidence.items()))
        second = values[1].value if len(values) > 1 else 0.0
        reliable = top >= self.min_confidence or (letters >= 4 and top - second >= self.min_margin)
        words = tokens(cleaned)
        if not counts and len(words) <= SHORT_WORDS:
            code, reliable = self._short_text_language(words, confidence, code, reliable, prior)
        if not reliable:
            return LanguageGuess(self.default, confidence[code], False)
        return LanguageGuess(code, confidence[code], True)

    def _short_text_language(
        self, words: list[str], confidence: dict[str, float], code: str, reliable: bool, prior: str | None
    ) -> tuple[str, bool]:
        """The language of a short Latin-script text: the n-gram choice `code`, unless function words clearly
        name another language, or the conversation's `prior` language is nearly as likely."""
        if not self.function_words:
            return code, reliable
        evidence = function_word_evidence(words, frozenset(confidence) & function_word_languages())
        if evidence:
            ranked = sorted(evidence, key=lambda language: (evidence[language], confidence.get(language, 0.0)))
            best = ranked[-1]
            runner_up = evidence[ranked[-2]] if len(ranked) > 1 else 0.0
            if evidence[best] >= FUNCTION_WORD_EVIDENCE and evidence[best] - runner_up >= FUNCTION_WORD_MARGIN:
                return best, True
        if (
            prior is not None
            and prior != code
            and prior in confidence
            and confidence[prior] >= PRIOR_RATIO * confidence[code]
            and evidence.get(prior, 0.0) >= evidence.get(code, 0.0)
        ):
            return prior, True
        return code, reliable

    def detect_many(self, texts: Iterable[str]) -> list[LanguageGuess]:
        """`detect` for each text, in order."""
        return [self.detect(text) for text in texts]


@lru_cache(maxsize=1)
def default_detector() -> LanguageDetector:
    """The process-wide detector over `DEFAULT_LANGUAGES` (models load lazily, once)."""
    return LanguageDetector()


def detect_language(text: str, prior: str | None = None) -> LanguageGuess:
    """Shortcut for `default_detector().detect(text, prior)`."""
    return default_detector().detect(text, prior)
