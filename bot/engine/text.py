"""Reply text handling: incremental detokenization, stop strings, and final clean-up."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_TEMPLATE_TOKEN = re.compile(r"<\|[^<>|]{0,40}\|>")
_NEW_TURN = "<|im_start|>"
# A sentence end: terminal punctuation, optional closing quotes/brackets, then whitespace or the end.
_SENTENCE_END = re.compile(r"[.!?\u2026](?:[\"'\u201d\u2019)\]]*)(?=\s|$)")


def clean_reply(text: str, finished_by_length: bool) -> str:
    """Make generated text presentable.

    Removes chat-template tokens (``<|im_end|>`` and friends) and anything from a hallucinated new
    turn on, trims whitespace, and — when the token limit cut the reply — cuts back to the last
    sentence end if there is one, so users never see half a sentence.
    """
    turn = text.find(_NEW_TURN)
    if turn >= 0:
        text = text[:turn]
    previous = None
    while previous != text:
        previous = text
        text = _TEMPLATE_TOKEN.sub("", text)
    text = text.strip()
    if finished_by_length:
        ends = list(_SENTENCE_END.finditer(text))
        if ends:
            text = text[: ends[-1].end()].rstrip()
    return text


@dataclass(frozen=True)
class TextUpdate:
    """What one new token changed: text safe to show now, and whether a stop string ended the reply."""

    piece: str
    stopped: bool


class ReplyText:
    """Turns generated token ids into text pieces for streaming.

    Pieces never split a multi-byte character (a trailing U+FFFD means bytes are still missing),
    and text that might be the start of a stop string is held back until it is known not to be,
    so stop strings are honoured across token boundaries and never shown.
    """

    def __init__(self, decode: Callable[[Sequence[int]], str], stop: Sequence[str]) -> None:
        self._decode = decode
        self._stop = tuple(s for s in stop if s)
        self._ids: list[int] = []
        self._emitted = 0
        self.text = ""
        self.stopped = False

    def push(self, token_id: int) -> TextUpdate:
        """Add one token; return the newly showable text."""
        self._ids.append(token_id)
        text = self._decode(self._ids)
        if text.endswith("\ufffd"):
            return TextUpdate("", False)
        self.text = text
        found = [index for index in (text.find(stop) for stop in self._stop) if index >= 0]
        if found:
            self.text = text[: min(found)]
            self.stopped = True
            return TextUpdate(self._take(len(self.text)), True)
        return TextUpdate(self._take(len(text) - self._held_back(text)), False)

    def flush(self) -> str:
        """Release held-back text at the end of generation (it turned out not to be a stop string)."""
        return self._take(len(self.text))

    def _held_back(self, text: str) -> int:
        longest = 0
        for stop in self._stop:
            for size in range(min(len(stop) - 1, len(text)), 0, -1):
                if text.endswith(stop[:size]):
                    longest = max(longest, size)
                    break
        return longest

    def _take(self, upto: int) -> str:
        if upto <= self._emitted:
            return ""
        piece = self.text[self._emitted : upto]
        self._emitted = upto
        return piece
