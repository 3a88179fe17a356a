"""Reading input lines in chunks, so that a pipe gets one model pass per chunk and a terminal one per line."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator


def batches(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    """Consecutive chunks of ``size`` lines (the last one shorter)."""
    iterator = iter(lines)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
