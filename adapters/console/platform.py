"""The console's declaration (entry point `socialbot.platforms: console`): `socialbot chat` only."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from bot.platform import Adapter, ChatSession, PlatformContext, PlatformSpec

if TYPE_CHECKING:
    from bot.config import LoadedConfig


def create(context: PlatformContext) -> Adapter:
    from adapters.console.adapter import ConsoleAdapter

    return ConsoleAdapter(context)


def open_chat(
    context: PlatformContext, chat_id: str, input_stream: TextIO | None = None, output_stream: TextIO | None = None
) -> ChatSession:
    from adapters.console.adapter import ConsoleAdapter

    return ConsoleAdapter(context, input_stream=input_stream, output_stream=output_stream, chat_id=chat_id)


def configured(config: LoadedConfig) -> bool:
    return False  # never started by `socialbot run`; `socialbot chat` starts it


spec = PlatformSpec("console", create, configured, interactive=True, open_chat=open_chat)
