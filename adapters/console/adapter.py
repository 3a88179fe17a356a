"""Terminal chat: each line typed is an IncomingMessage from the operator; replies are printed.

It exists so anyone can talk to the bot on a fresh machine without any platform account, through exactly
the path Telegram and Discord messages take: lines go into the app's inbox, replies come out of its
dispatcher through `ConsoleTransport`.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Callable
from typing import TextIO

from bot.dispatch.transport import PostRequest, TransportCapabilities
from bot.messages import Author, ConversationKey, IncomingMessage, PlatformAction
from bot.platform import PlatformContext

EXIT_WORDS = {"/quit", "/exit"}
PLATFORM = "console"


class ConsoleTransport:
    """Prints what the dispatcher posts: the bot's own chat with its name, other chats with their key."""

    platform = PLATFORM
    capabilities = TransportCapabilities(max_text_length=100_000)

    def __init__(self, output_stream: TextIO, bot_name: str, chat_id: str) -> None:
        self.output_stream = output_stream
        self.bot_name = bot_name
        self.chat_id = chat_id
        self._posted = 0

    async def post(self, request: PostRequest) -> str:
        conversation = request.conversation
        if conversation.chat_id == self.chat_id:
            prefix = f"{self.bot_name}> "
        else:
            prefix = f"[{conversation.platform}:{conversation.chat_id}] "
        self.write(prefix + request.text)
        self._posted += 1
        return f"console-{self._posted}"

    async def edit(self, conversation: ConversationKey, message_id: str, text: str) -> None:
        self.write(f"{self.bot_name}> {text}")

    async def delete(self, conversation: ConversationKey, message_id: str) -> None:
        return None

    async def typing(self, conversation: ConversationKey) -> None:
        return None

    async def perform(self, action: PlatformAction) -> None:
        self.write(f"[moderation] {action.kind} {action.user_id or action.message_id}: {action.reason}")

    def write(self, text: str, newline: bool = True) -> None:
        self.output_stream.write(text + ("\n" if newline else ""))
        self.output_stream.flush()


class ConsoleAdapter:
    """Reads lines from a text stream and writes the bot's replies to another; the operator is admin."""

    platform = PLATFORM
    capabilities = ConsoleTransport.capabilities

    def __init__(
        self,
        app: PlatformContext,
        input_stream: TextIO | None = None,
        output_stream: TextIO | None = None,
        chat_id: str = "local",
        user_name: str | None = None,
        prompt: str = "you> ",
    ) -> None:
        self.app = app
        self.input_stream = input_stream or sys.stdin
        self.transport = ConsoleTransport(output_stream or sys.stdout, app.config.settings.bot.name, chat_id)
        self.chat_id = chat_id
        self.user_name = user_name or _login_name()
        self.prompt = prompt if self.input_stream.isatty() else ""
        self._stopped = asyncio.Event()
        self._connected = False

    async def start(self) -> None:
        """Connect and print the replies a previous run stored but never printed."""
        self._connect()
        await self.app.dispatcher.deliver_owed(self.platform)

    async def stop_receiving(self) -> None:
        self._stopped.set()

    async def stop(self) -> None:
        self._stopped.set()
        if self._connected:
            await self.app.drain()
            self.app.disconnect(self.transport)
            self._connected = False

    def to_incoming(self, line: str) -> IncomingMessage:
        return IncomingMessage(
            conversation=ConversationKey(self.platform, self.chat_id),
            author=Author(self.user_name, display_name=self.user_name, username=self.user_name),
            text=line,
            is_direct=True,
            author_is_admin=True,
        )

    async def run(self, read_line: Callable[[], str] | None = None) -> int:
        """Chat until end of input or /quit; returns the number of messages handled."""
        self._connect()
        reader = read_line or self.input_stream.readline
        handled = 0
        while not self._stopped.is_set():
            self.transport.write(self.prompt, newline=False)
            line = await asyncio.to_thread(reader)
            if not line:
                break
            line = line.rstrip("\n")
            if line.strip().lower() in EXIT_WORDS:
                break
            message = self.to_incoming(line)
            await self.app.inbox.receive(message)
            await self.app.inbox.wait_idle(message.conversation.session_id)
            handled += 1
        return handled

    def _connect(self) -> None:
        if not self._connected:
            self.app.connect(self.transport)
            self._connected = True


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"
