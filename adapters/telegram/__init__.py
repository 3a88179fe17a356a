"""Telegram: python-telegram-bot v22 against the Bot API (or a self-hosted Bot API server via `base_url`).

`create_adapter(app)` is what `socialbot run` calls; the adapter registers itself as the app's Telegram
`Sender` while it runs.
"""

from adapters.telegram.adapter import TelegramAdapter, create_adapter
from adapters.telegram.errors import MalformedUpdate, TelegramAdapterError

__all__ = ["MalformedUpdate", "TelegramAdapter", "TelegramAdapterError", "create_adapter"]
