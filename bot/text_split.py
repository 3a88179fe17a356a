"""Splitting long replies into platform-sized chunks on paragraph, then sentence, then word boundaries."""

from __future__ import annotations

import re

SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


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
