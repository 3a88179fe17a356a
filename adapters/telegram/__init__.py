"""Telegram: python-telegram-bot v22 against the Bot API (or a self-hosted Bot API server via `base_url`).

`create_adapter(app)` is what `socialbot run` calls; the adapter registers itself as the app's Telegram
`Sender` while it runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.telegram.adapter import TelegramAdapter, create_adapter
    from adapters.telegram.errors import MalformedUpdate, TelegramAdapterError

__all__ = ["MalformedUpdate", "TelegramAdapter", "TelegramAdapterError", "create_adapter"]

# python-telegram-bot is imported on first use, not when the platform's declaration is loaded with the config.
_LAZY = {
    "TelegramAdapter": "adapters.telegram.adapter",
    "create_adapter": "adapters.telegram.adapter",
    "MalformedUpdate": "adapters.telegram.errors",
    "TelegramAdapterError": "adapters.telegram.errors",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
