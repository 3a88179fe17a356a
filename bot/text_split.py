"""Splitting long replies into platform-sized chunks on paragraph, then sentence, then word boundaries."""

from __future__ import annotations

import re

SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def chunk_spans(text: str, limit: int, start: int = 0) -> list[tuple[str, int, int]]:
    """The chunks of `text[start:]` (as `split_message` cuts them) with their start and end offsets in `text`.

    An adapter that posted chunks up to some end offset can resume from there without posting one twice.
    """
    spans = []
    offset = start
    for chunk in split_message(text[start:], limit):
        begin = text.index(chunk, offset)
        offset = begin + len(chunk)
        spans.append((chunk, begin, offset))
    return spans


def split_message(text: str, limit: int) -> list[str]:
    """Chunks of at most `limit` characters, in order, that join back to the text (modulo whitespace).

    Prefers paragraph breaks, then sentence ends, then spaces; only a single word longer than `limit` is cut
    mid-word. Empty text gives no chunks.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    text = text.strip()
    chunks: list[str] = []
    while len(text) > limit:
        window = text[: limit + 1]
        cut = window.rfind("\n\n")
        if cut <= 0:
            cut = window.rfind("\n")
        if cut <= 0:
            ends = [match.start() for match in SENTENCE_END.finditer(window) if match.start() <= limit]
            cut = ends[-1] if ends else -1
        if cut <= 0:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = limit
        chunk = text[:cut].rstrip()
        if chunk:
            chunks.append(chunk)
        text = text[cut:].lstrip()
    if text:
        chunks.append(text)
    return chunks
