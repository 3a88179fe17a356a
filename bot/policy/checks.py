"""Checks on the model's own text before anyone sees it: degenerate, in the wrong language, or making a claim.

A small model loops ("Hello! Hello! Hello!"), drifts into word salad ("Certeo de la hora de la hora"), stops
mid-sentence at its token limit, or answers Spanish in English. Each check names what is wrong so the caller can
regenerate once and then fall back to a fixed text in the person's language.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from bot.language import detect_language
from bot.policy.signals import business_claim

_WORD = re.compile(r"\w+", re.UNICODE)
_CJK = re.compile(r"[\u4e00-\u9fff\u3040-\u30ff\uac00-\ud7af]")
_END = re.compile(r"[.!?…。！？)\]\"'»”*~]|[\U0001F300-\U0001FAFF\u2600-\u27BF]$")
_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])\s*")
_VOWELS = set("aeiouyàáâãäåèéêëìíîïòóôõöùúûüœæ")
_ROLE_LEAK = re.compile(r"^\s*(user|assistant|system|human|ai|bot)\s*:", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class ReplyCheck:
    """The verdict on one model reply: the text to use (trimmed to whole sentences) and what was wrong, if any."""

    text: str
    problem: str | None  # "empty", "repetition", "gibberish", "cut_off", "wrong_language", "business_claim", ...

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
    if problem is None and not allow_business:
        claim = business_claim(trimmed)
        if claim is not None:
            problem = f"business_claim:{claim}"
    return ReplyCheck(trimmed, problem)
