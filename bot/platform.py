"""The platform interface: what a chat platform declares to plug in, and the narrow context its adapter gets.

A platform is one package (at most three files: declaration, adapter, conversion) exposing a
`PlatformSpec` through the `socialbot.platforms` entry point group. The core asks the spec what it needs to
know about the platform (its group reply mode, how to link to a message, whether it drops repeated posts)
and never names a platform itself. Its adapter gets a `PlatformContext`: the inbox (the one way in), the
dispatcher registration (the one way out), the commands to offer and the config, never the app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TextIO

from pydantic import BaseModel

from bot.messages import ConversationKey

if TYPE_CHECKING:
    from bot.config import LoadedConfig, SecretSpec
    from bot.dispatch.dispatcher import Dispatcher
    from bot.dispatch.transport import Transport
    from bot.inbox import Inbox
    from bot.reachability import ProbeOptions, Reachability
    from bot.routing import CommandRegistry


class PlatformContext(Protocol):
    """What an adapter may use of the running bot: messages in through `inbox`, out through the transport
    it `connect`s (the dispatcher posts through it), the commands to register with the platform, and the
    config (its own section and secrets)."""

    @property
    def config(self) -> LoadedConfig: ...

    @property
    def inbox(self) -> Inbox: ...

    @property
    def dispatcher(self) -> Dispatcher: ...

    @property
    def commands(self) -> CommandRegistry: ...

    def connect(self, transport: Transport) -> None: ...

    def disconnect(self, transport: Transport) -> None: ...

    async def drain(self) -> int: ...

    def set_bot_username(self, platform: str, username: str) -> None:
        """The bot's handle on `platform`, so `/command@handle` addressed to another bot is ignored."""


class Adapter(Protocol):
    """A running connection to one platform, as `socialbot run` drives it."""

    platform: str

    async def start(self) -> None: ...

    async def stop_receiving(self) -> None: ...

    async def stop(self) -> None: ...


class ChatSession(Adapter, Protocol):
    """An interactive platform (the terminal) that runs one conversation until its input ends."""

    prompt: str  # shown before each line it reads; the CLI shows the first one before the bot is built
    input_stream: TextIO

    async def run(self, read_line: Callable[[], str] | None = None) -> object: ...


def _no_link(conversation: ConversationKey, message_id: str) -> str:
    return ""


@dataclass(frozen=True)
class PlatformSpec:
    """A platform's declaration: how to build its adapter and what the core needs to know about it."""

    name: str
    # Builds the adapter; raises a clear error when the platform is not configured.
    create: Callable[[PlatformContext], Adapter]
    # Whether `socialbot run` should start it (its token is set).
    configured: Callable[[LoadedConfig], bool]
    # The platform's own config section and its model (the loader validates it with the core's sections;
    # read it with `config.section(Model)`).
    settings_section: str = ""
    settings_model: type[BaseModel] | None = None
    # Its secrets (the bot token): key in the secrets file and environment variable. `config check` and
    # `socialbot doctor` report which are set (never their values); every value is kept out of logs.
    secrets: tuple[SecretSpec, ...] = ()
    # `section.key` -> why a release stopped reading it (a config that still sets it fails saying so).
    retired_keys: Mapping[str, str] = field(default_factory=dict)
    # `socialbot doctor`: is the platform reachable with the configured token? (None: nothing to check.)
    check_reachable: Callable[[LoadedConfig, ProbeOptions], Awaitable[Reachability]] | None = None
    # How group chats are answered when no per-chat setting says: 'mention', 'always' or 'silent'.
    group_reply_mode: Callable[[LoadedConfig], str] = lambda config: "mention"
    # Whether a growing reply is shown while it is generated (edited in place) on this platform.
    shows_progress: Callable[[LoadedConfig], bool] = lambda config: False
    # A link staff can open to the message (empty when the platform has none).
    message_link: Callable[[ConversationKey, str], str] = _no_link
    # True when the platform drops a repeated post with the same key, so a scheduled post may be retried.
    dedupes_posts: bool = False
    # Started only on request (`socialbot chat`), never by `socialbot run`.
    interactive: bool = False
    # For an interactive platform: a session on one conversation (`socialbot chat --chat-id`), reading and
    # writing the given streams (standard input and output when None).
    open_chat: Callable[[PlatformContext, str, TextIO | None, TextIO | None], ChatSession] | None = None

    def secrets_set(self, config: LoadedConfig) -> bool:
        """Whether the platform declares secrets and every one is set (their values are not read out)."""
        return bool(self.secrets) and all(config.secrets.value(secret.key) is not None for secret in self.secrets)
