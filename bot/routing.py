"""How a turn is answered: built-in and feature commands, then feature routes, then the model.

Features (auto-replies, knowledge base, tickets, ...) plug in as `Route`s and `Command`s; the manager asks
them in order and the first that answers wins. None of them knows which platform the message came from.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.messages import IncomingMessage
from bot.moderation.gate import ModerationDecision

ProgressSink = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class TurnContext:
    """One incoming message after it was cleaned and stored, with the ids a feature needs."""

    message: IncomingMessage
    text: str  # cleaned and truncated
    conversation_id: int
    user_id: int
    stored_message_id: int
    addressed: bool  # the bot should answer (DM, mention, reply to the bot, or chat setting "always")
    # The gate's verdict on the incoming text (automod acts on it); None for empty text.
    input_flag: ModerationDecision | None = None
    # Where a growing, already-gated partial reply may be shown (adapters that edit a message as it grows).
    progress: ProgressSink | None = None

    @property
    def is_admin(self) -> bool:
        return self.message.author_is_admin

    @property
    def session_id(self) -> str:
        return self.message.conversation.session_id


@dataclass(frozen=True)
class RouteReply:
    """A feature's answer to a turn. `gate=False` only for fixed texts the owner wrote (help, notices).

    An empty `text` means "consumed quietly": the turn is handled (muted user, open ticket, ...) and nothing
    is sent back to the conversation, except `side_messages` to other conversations.
    """

    text: str
    source: str
    gate: bool = True
    details: dict[str, Any] = field(default_factory=dict)
    # Extra messages to other conversations (e.g. a ticket summary to the staff chat).
    side_messages: tuple[Any, ...] = ()


class Route(Protocol):
    """A feature that may answer a turn before the model does.

    A route with a true `guards_commands` attribute (automod, mutes, rate limits) runs before commands too.
    """

    name: str

    async def respond(self, turn: TurnContext) -> RouteReply | None:
        """An answer, or None to let the next route (finally the model) handle the turn."""


def consumed(source: str, side_messages: tuple[Any, ...] = (), **details: Any) -> RouteReply:
    """A reply that sends nothing to the conversation: the turn is handled quietly."""
    return RouteReply("", source, gate=False, details=details, side_messages=side_messages)


CommandHandler = Callable[[TurnContext, str], Awaitable[RouteReply | str]]


@dataclass(frozen=True)
class Command:
    """A `/name args` command available on every platform (registered as slash/bot commands)."""

    name: str
    description: str
    handler: CommandHandler
    admin_only: bool = False
    usage: str = ""


class CommandRegistry:
    """All commands by name; adapters read `all()` to register them with the platform."""

    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}

    def add(self, command: Command) -> None:
        if command.name in self._commands:
            raise ValueError(f"command /{command.name} is registered twice")
        self._commands[command.name] = command

    def get(self, name: str) -> Command | None:
        return self._commands.get(name.lower())

    def all(self) -> list[Command]:
        return sorted(self._commands.values(), key=lambda command: command.name)


def parse_command(text: str, bot_username: str = "") -> tuple[str, str] | None:
    """`("name", "args")` for `/name args` or `/name@botname args`; None when text is not a command."""
    if not text.startswith("/") or len(text) < 2:
        return None
    head, _, args = text[1:].partition(" ")
    name, _, target = head.partition("@")
    if target and bot_username and target.lower() != bot_username.lower():
        return None
    if not name or not all(char.isalnum() or char == "_" for char in name):
        return None
    return name.lower(), args.strip()
