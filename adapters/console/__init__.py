"""The console adapter: a terminal chat through the same manager, store and gate as the platforms."""

from adapters.console.adapter import ConsoleAdapter

__all__ = ["ConsoleAdapter"]
