"""Text normalisation applied to a message before the moderation encoder tokenizes it.

The same function must run when a classifier is trained and when it scores messages, so the
classifier's metadata names the normalisation it was trained with and the tokenizer applies it.

- ``basic``: emojis become their Unicode names ("face with tears of joy"; the uncased BERT
  vocabulary maps them to [UNK]), runs of ``@USER`` placeholders collapse to one, whitespace is
  squeezed. The harm check and older offensive-classifier weights use this.
- ``tweet``: ``basic`` plus tweet rewrites in the spirit of the OffensEval 2019 winner: hashtags
  lose their ``#`` and are split into words (``#LiberalsAreIdiots`` -> "liberals are idiots",
  ``#draintheswamp`` -> "drain the swamp"), flags become "flag", skin-tone modifiers are dropped,
  a run of one repeated emoji is named once, and OLID's ``URL`` placeholder becomes "link", one
  word of the vocabulary. Measured on the trainer's OLID dev split it did not help (macro-F1 0.782
  against 0.791 for ``basic`` with the same recipe), so the shipped weights use ``basic``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

BASIC = "basic"
TWEET = "tweet"
VERBATIM = "verbatim"  # the text as given: what sentence-transformers feeds the same encoder
NORMALIZATIONS = (BASIC, TWEET, VERBATIM)

_MENTION_RUN = re.compile(r"(?:@USER\s*){2,}")
_WHITESPACE = re.compile(r"\s+")
_HASHTAG = re.compile(r"#(\w+)")
# CamelCase and letter/digit boundaries: "RedWave2018" -> Red, Wave, 2018; "MAGAPatriots" -> MAGA, Patriots.
_HASHTAG_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+|[^\W\d_]+")
_URL_PLACEHOLDER = re.compile(r"\bURL\b")
_FLAG = re.compile("[\U0001f1e6-\U0001f1ff]{2}")
_SKIN_TONE = re.compile("[\U0001f3fb-\U0001f3ff]")
_REPEATED_EMOJI = re.compile("([\u2600-\u27bf\U0001f000-\U0001faff])(?:[\ufe0f\u200d]*\\1)+")

# BERT WordPiece vocabularies list whole words from this id on, roughly by falling corpus frequency.
_FIRST_WORD_ID = 1996
# Pieces of one or two letters are accepted in a split only when this common ("a", "to", "we", ...),
# so acronyms such as "maga" or "tcot" stay whole instead of becoming "ma ga".
_SHORT_WORD_MAX_RANK = 300
_MIN_SEGMENTED_LENGTH = 5
# A capitalised part ("Maddow") is a name or a word already; an all-caps part this short is an acronym.
_MIN_SEGMENTED_CAPITALS = 8
_MAX_WORD_LENGTH = 20


def _describe_symbol(char: str) -> str:
    """Spell out an emoji or pictograph, which the uncased BERT vocabulary maps to [UNK]."""
    if unicodedata.category(char) != "So":
        return char
    name = unicodedata.name(char, "")
    return f" {name.lower()} " if name else " "


def normalize_message(text: str) -> str:
    """The ``basic`` normalisation: emojis named, ``@USER`` runs collapsed, whitespace squeezed."""
    text = _MENTION_RUN.sub("@USER ", text)
    text = "".join(_describe_symbol(char) for char in text)
    return _WHITESPACE.sub(" ", text).strip()


@dataclass(frozen=True)
class HashtagSegmenter:
    """Splits run-together hashtag words ("walkaway" -> "walk away") using a ranked word list.

    Word costs follow Zipf's law (cost = log of the word's frequency rank), and the split of least
    total cost wins; a part that is already a word, or that cannot be split into acceptable words,
    is kept whole.
    """

    word_costs: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_vocabulary(cls, vocabulary: Mapping[str, int]) -> HashtagSegmenter:
        """Build from a BERT WordPiece vocabulary (token -> id), whose whole words come by frequency."""
        words = sorted(
            (token_id, token)
            for token, token_id in vocabulary.items()
            if token_id >= _FIRST_WORD_ID and token.isascii() and token.isalpha()
        )
        return cls({token: math.log(rank + 1) for rank, (_, token) in enumerate(words, start=1)})

    def _acceptable(self, word: str) -> bool:
        cost = self.word_costs.get(word)
        if cost is None:
            return False
        return len(word) > 2 or cost <= math.log(_SHORT_WORD_MAX_RANK + 1)

    def split_word(self, word: str) -> list[str]:
        """The least-cost split of a lowercase ``word`` into vocabulary words, or ``[word]``."""
        if len(word) < _MIN_SEGMENTED_LENGTH or word in self.word_costs or not word.isalpha():
            return [word]
        best: list[tuple[float, int]] = [(0.0, 0)] + [(math.inf, 0)] * len(word)
        for end in range(1, len(word) + 1):
            for start in range(max(0, end - _MAX_WORD_LENGTH), end):
                piece = word[start:end]
                if best[start][0] == math.inf or not self._acceptable(piece):
                    continue
                cost = best[start][0] + self.word_costs[piece]
                if cost < best[end][0]:
                    best[end] = (cost, start)
        if best[-1][0] == math.inf:
            return [word]
        pieces: list[str] = []
        end = len(word)
        while end > 0:
            start = best[end][1]
            pieces.append(word[start:end])
            end = start
        return pieces[::-1]

    def segment(self, hashtag: str) -> str:
        """Words of a hashtag body (no ``#``), lowercased: "RedWaveRising2018" -> "red wave rising 2018"."""
        words: list[str] = []
        for part in _HASHTAG_PARTS.findall(hashtag):
            splittable = part.islower() or (part.isupper() and len(part) >= _MIN_SEGMENTED_CAPITALS)
            words.extend(self.split_word(part.lower()) if splittable else [part.lower()])
        return " ".join(words)


@dataclass(frozen=True)
class TweetNormalizer:
    """The ``tweet`` normalisation (see the module docstring); callable on one message."""

    segmenter: HashtagSegmenter

    def __call__(self, text: str) -> str:
        text = _HASHTAG.sub(lambda match: f" {self.segmenter.segment(match.group(1))} ", text)
        text = _URL_PLACEHOLDER.sub("link", text)
        text = _FLAG.sub(" flag ", text)
        text = _SKIN_TONE.sub("", text)
        text = _REPEATED_EMOJI.sub(r"\1", text)
        return normalize_message(text)


class UnknownNormalizationError(ValueError):
    """Raised for a normalisation name that is not one of :data:`NORMALIZATIONS`."""


def make_normalizer(name: str, vocabulary: Mapping[str, int]) -> Callable[[str], str]:
    """The normalisation called ``name``; ``vocabulary`` is the encoder's (hashtag words come from it)."""
    if name == BASIC:
        return normalize_message
    if name == TWEET:
        return TweetNormalizer(HashtagSegmenter.from_vocabulary(vocabulary))
    if name == VERBATIM:
        return str
    raise UnknownNormalizationError(f"unknown text normalisation {name!r}; expected one of {NORMALIZATIONS}")
