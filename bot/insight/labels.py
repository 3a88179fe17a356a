"""The three sentiment labels, in the order every model's scores use."""

from __future__ import annotations

LABELS: tuple[str, str, str] = ("negative", "neutral", "positive")
