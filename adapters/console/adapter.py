"""Terminal chat: each line typed is an IncomingMessage from the operator; replies are printed.

It exists so anyone can talk to the bot on a fresh machine without any platform account, through exactly
the path Telegram and Discord messages take.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Callable
from typing import TextIO

from adapters.base import AdapterCapabilities
from bot.app import BotApp
from bot.messages import Author, ConversationKey, IncomingMessage, OutgoingMessage, PlatformAction

EXIT_WORDS = {"/quit", "/exit"}


class ConsoleAdapter:
    """Reads lines from a text stream and writes the bot's replies to another; the operator is admin."""

    platform = "console"
    capabilities = AdapterCapabilities(max_text_length=100_000)

    def __init__(
        self,
        app: BotApp,
        input_stream: TextIO | None = None,
        output_stream: TextIO | None = None,
        chat_id: str = "local",
        user_name: str | None = None,
        prompt: str = "you> ",
    ) -> None:
        self.app = app
        self.input_stream = input_stream or sys.stdin
        self.output_stream = output_stream or sys.stdout
        self.chat_id = chat_id
        self.user_name = user_name or _login_name()
        self.prompt = prompt if self.input_stream.isatty() else ""
        self._counter = 0
        self._stopped = asyncio.Event()

    async def start(self) -> None:
        self.app.register_sender(self)
        for owed in self.app.manager.undelivered(self.platform):
            await self.send(owed)

    async def stop(self) -> None:
        self._stopped.set()

    def to_incoming(self, line: str) -> IncomingMessage:
        self._counter += 1
        return IncomingMessage(
            conversation=ConversationKey(self.platform, self.chat_id),
            author=Author(self.user_name, display_name=self.user_name, username=self.user_name),
            text=line,
            is_direct=True,
            author_is_admin=True,
        )

    async def run(self, read_line: Callable[[], str] | None = None) -> int:
        """Chat until end of input or /quit; returns the number of messages handled."""
        reader = read_line or self.input_stream.readline
        handled = 0
        while not self._stopped.is_set():
            self._write(self.prompt, newline=False)
            line = await asyncio.to_thread(reader)
            if not line:
                break
            line = line.rstrip("\n")
            if line.strip().lower() in EXIT_WORDS:
                break
            for reply in await self.app.manager.handle(self.to_incoming(line)):
                await self.send(reply)
            handled += 1
        return handled

    async def send(self, message: OutgoingMessage) -> list[str]:
        prefix = (
            f"{self.app.config.settings.bot.name}> "
            if message.conversation.chat_id == self.chat_id
            else (f"[{message.conversation.platform}:{message.conversation.chat_id}] ")
        )
        self._write(prefix + message.text)
        platform_id = f"console-{message.stored_message_id or 0}"
        self.app.manager.record_delivery(message, platform_id)
        return [platform_id]

    async def perform(self, action: PlatformAction) -> None:
        self._write(f"[moderation] {action.kind} {action.user_id or action.message_id}: {action.reason}")

    def _write(self, text: str, newline: bool = True) -> None:
        self.output_stream.write(text + ("\n" if newline else ""))
        self.output_stream.flush()


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"
