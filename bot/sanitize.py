"""Making arbitrary user text safe to store, prompt with and log: no crash on any input."""

from __future__ import annotations

import unicodedata

# Zero-width and bidirectional control characters: invisible, used to hide or reorder text.
INVISIBLE = {
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
}


def clean_text(text: str, max_chars: int) -> tuple[str, bool]:
    """Text without lone surrogates, control or invisible characters, cut to `max_chars`.

    Returns the cleaned text and whether it was truncated. Newlines and tabs are kept.
    """
    text = text.encode("utf-8", "replace").decode("utf-8")
    cleaned = "".join(
        char
        for char in text
        if char in "\n\t" or (char not in INVISIBLE and unicodedata.category(char) not in ("Cc", "Cs", "Co"))
    )
    cleaned = unicodedata.normalize("NFC", cleaned).strip()
    truncated = len(cleaned) > max_chars
    if truncated:
        cleaned = cleaned[:max_chars].rstrip()
    return cleaned, truncated


def storable(text: str) -> str:
    """The text as the user sent it, minus what UTF-8 cannot hold (lone surrogates become U+FFFD)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in text)
    return text


def log_preview(text: str, limit: int = 40) -> str:
    """A short, single-line preview of user text for DEBUG logs."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
