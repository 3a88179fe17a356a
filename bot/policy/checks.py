"""Checks on the model's own text before anyone sees it: degenerate, in the wrong language, or making a claim.

A small model loops ("Hello! Hello! Hello!"), drifts into word salad ("Certeo de la hora de la hora"), stops
mid-sentence at its token limit, or answers Spanish in English. Each check names what is wrong so the caller can
regenerate once and then fall back to a fixed text in the person's language.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from bot.language import detect_language
from bot.policy.signals import business_claim

log = logging.getLogger(__name__)

_WORD = re.compile(r"\w+", re.UNICODE)
_CJK = re.compile(r"[\u4e00-\u9fff\u3040-\u30ff\uac00-\ud7af]")
_END = re.compile(r"[.!?…。！？)\]\"'»”*~]|[\U0001F300-\U0001FAFF\u2600-\u27BF]$")
_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])\s*")
_VOWELS = set("aeiouyàáâãäåèéêëìíîïòóôõöùúûüœæ")
# Words of these languages are known words; a word none of them knows is invented ("toujine", "Jahrtszustimmen").
DICTIONARY_LANGUAGES = ("en", "es", "fr", "de", "pt", "it")
# Replies meant for these languages are judged. Not Spanish: its dictionary holds few verb forms ("puedo",
# "ayudarte", "estoy" are unknown), so 17 of 29 of our own Spanish fixed texts would fail; nor Chinese.
INVENTED_JUDGED_LANGUAGES = frozenset({"en", "fr", "de", "pt", "it"})
# Shorter words are too often abbreviations, names or elisions ("c'", "ok") to count.
INVENTED_MIN_CHARS = 5
# Two invented words make a reply unusable: one is a typo or a rare name ("especalmente"), two is word salad.
INVENTED_WORDS_LIMIT = 2
# A capitalised word this long is a (German) compound, not a name, and is judged too.
COMPOUND_MIN_CHARS = 12
_LETTERS = re.compile(r"[^\W\d_]+", re.UNICODE)
_ROLE_LEAK = re.compile(r"^\s*(user|assistant|system|human|ai|bot)\s*:", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class ReplyCheck:
    """The verdict on one model reply: the text to use (trimmed to whole sentences) and what was wrong, if any."""

    text: str
    problem: str | None  # "empty", "repetition", "gibberish", "cut_off", "wrong_language", "invented_words",
    # "business_claim:<why>", ...

    @property
    def ok(self) -> bool:
        return self.problem is None


def trim_to_sentences(text: str) -> str:
    """Drop a trailing unfinished sentence when at least one whole sentence comes before it."""
    text = text.strip()
    if not text or _END.search(text[-1]):
        return text
    parts = [part for part in _SENTENCE_END.split(text) if part]
    return " ".join(parts[:-1]).strip() if len(parts) > 1 else text


def degeneration(text: str) -> str | None:
    """What makes `text` unusable as a chat reply (repetition, gibberish, cut off), or None."""
    stripped = text.strip()
    if len(stripped) < 2:
        return "empty"
    if _ROLE_LEAK.search(stripped):
        return "role_leak"
    tokens = [token.lower() for token in _WORD.findall(stripped)]
    if _CJK.search(stripped):
        tokens = [char for char in stripped if char.strip() and not char.isspace()]
    if len(tokens) >= 6:
        counts = Counter(tokens)
        if counts.most_common(1)[0][1] / len(tokens) > 0.34 and len(tokens) >= 8:
            return "repetition"
        if len(set(tokens)) / len(tokens) < 0.45:
            return "repetition"
        grams = Counter(tuple(tokens[index : index + 3]) for index in range(len(tokens) - 2))
        if grams and grams.most_common(1)[0][1] >= 3:
            return "repetition"
    sentences = [part.strip().lower() for part in re.split(r"[.!?。！？]+", stripped) if part.strip()]
    if len(sentences) >= 2 and len(set(sentences)) < len(sentences):
        return "repetition"
    if not _CJK.search(stripped):
        latin = [token for token in _WORD.findall(stripped) if token.isalpha()]
        if latin:
            odd = sum(1 for token in latin if len(token) > 18 or (len(token) > 3 and not set(token.lower()) & _VOWELS))
            if odd / len(latin) > 0.25:
                return "gibberish"
        letters = sum(char.isalpha() for char in stripped)
        if letters / max(1, len(stripped)) < 0.5:
            return "gibberish"
    if not _END.search(stripped[-1]):
        return "cut_off"
    return None


if TYPE_CHECKING:
    from spellchecker import SpellChecker


@lru_cache(maxsize=1)
def _dictionaries() -> tuple[SpellChecker, ...]:
    """The six word lists, loaded once (~3 CPU-s); none when pyspellchecker is not installed (no word is judged)."""
    try:
        from spellchecker import SpellChecker
    except ImportError:
        log.warning("pyspellchecker is not installed: model replies are not checked for invented words")
        return ()
    return tuple(SpellChecker(language=code, distance=1) for code in DICTIONARY_LANGUAGES)


def invented_words(text: str, language: str = "en") -> list[str]:
    """Words of `text` that no dictionary of the six languages knows ("Diafraenzamosco", "toujine").

    Capitalised words other than a sentence's first are names unless they are long enough to be (German)
    compounds. Only replies meant for `INVENTED_JUDGED_LANGUAGES` are judged, never Chinese, Japanese or Korean.
    """
    if _CJK.search(text) or language not in INVENTED_JUDGED_LANGUAGES:
        return []
    candidates: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        for position, word in enumerate(_LETTERS.findall(sentence)):
            if len(word) >= INVENTED_MIN_CHARS and (
                position == 0 or not word[:1].isupper() or len(word) >= COMPOUND_MIN_CHARS
            ):
                candidates.append(word.lower())
    dictionaries = _dictionaries()
    if not candidates or not dictionaries:
        return []
    unknown = set(candidates)
    for dictionary in dictionaries:
        unknown = dictionary.unknown(unknown)
        if not unknown:
            return []
    return [word for word in candidates if word in unknown]


def wrong_language(text: str, expected: str) -> bool:
    """True when `text` is reliably in another language than `expected`."""
    guess = detect_language(text)
    return guess.reliable and guess.code != expected


def check_reply(text: str, language: str, allow_business: bool = False) -> ReplyCheck:
    """Check a model reply meant for a person writing in `language`; `allow_business=False` also rejects any
    claim about the business (numbers, prices, business words, "we/our")."""
    trimmed = trim_to_sentences(text)
    problem = degeneration(trimmed)
    if problem is None and wrong_language(trimmed, language):
        problem = "wrong_language"
    if problem is None and len(set(invented_words(trimmed, language))) >= INVENTED_WORDS_LIMIT:
        problem = "invented_words"
    if problem is None and not allow_business:
        claim = business_claim(trimmed)
        if claim is not None:
            problem = f"business_claim:{claim}"
    return ReplyCheck(trimmed, problem)
