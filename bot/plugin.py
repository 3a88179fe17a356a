"""The feature interface: what a capability declares to plug into the bot, and the narrow context it gets.

A feature is one package that exposes a `FeatureSpec` through the `socialbot.features` entry point group
(the built-ins are declared the same way, in pyproject.toml). The spec names the feature's config section
and settings model, its migrations, its CLI modules and how to build the live `Feature`. At start the
core builds each feature with a `FeatureContext` (the core's services, never the whole app), and the
feature registers its routes (with a priority and a stage), commands and prompt hooks on it.

Route order is explicit: routes run by `(stage, priority)`, lower first. Guard routes see every message,
before commands; answer routes run after commands; the first route with an answer that `stops` wins.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

if TYPE_CHECKING:
    from bot.chat_settings import ChatSettingsStore
    from bot.config import LoadedConfig, SecretSpec
    from bot.delivery import Sender
    from bot.engine.base import Engine, GenerationSettings
    from bot.manager import ConversationManager
    from bot.messages import OutgoingMessage
    from bot.migration_set import MigrationSet
    from bot.moderation.gate import ModerationGate
    from bot.prompts import PromptLibrary
    from bot.routing import Command, Route, RouteReply, TurnContext
    from bot.store import Store

Stage = Literal["guard", "answer"]
STAGES: tuple[Stage, ...] = ("guard", "answer")

# The built-in routes' priorities, in one table so the order reads top to bottom (lower runs first).
# Guards see every message before commands; answers run after commands and before the model.
GUARD_LANGUAGE = 10  # policy: notes the conversation's language (never answers)
GUARD_SCORING = 20  # insight: wakes the sentiment scorer (never answers)
GUARD_AUTOMOD = 30  # automod: warns, deletes, times out
GUARD_ABUSE = 40  # rules: mutes and rate limits
GUARD_MEMORY = 50  # memory: notes stated facts (never answers)
ANSWER_HANDOFF = 10  # kb: an open ticket keeps the bot quiet; "a person, please" opens one
ANSWER_RULES = 20  # rules: auto-replies
ANSWER_MEMORY = 30  # memory: "what do you know about me?"
ANSWER_KB = 40  # kb: answers from the knowledge base (when the turn policy is off)
ANSWER_POLICY = 90  # policy: answers what no feature took, by the kind of message

ForgetHook = Callable[[str, str], int]
PromptHook = Callable[["TurnContext"], str]
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class RoutePlacement:
    """A route with where it runs: its stage, its priority within the stage, and whether its answer ends
    the turn (`stops=False`: an observer whose answer is ignored, so the next route still runs)."""

    route: Route
    priority: int
    stage: Stage = "answer"
    stops: bool = True

    @property
    def sort_key(self) -> tuple[int, int]:
        return STAGES.index(self.stage), self.priority


class PlacedRoute:
    """A route run where its placement says: in the guard stage or not, and with its answer ignored when
    it does not stop the turn (an observer noting facts or languages)."""

    def __init__(self, route: Route, guards_commands: bool, stops: bool) -> None:
        self.route = route
        self.name = route.name
        self.guards_commands = guards_commands
        self.stops = stops

    async def respond(self, turn: TurnContext) -> RouteReply | None:
        reply = await self.route.respond(turn)
        return reply if self.stops else None


def ordered_routes(placements: Sequence[RoutePlacement]) -> list[Route]:
    """The routes in the order the manager asks them (stable for equal priorities); a route is wrapped only
    when its placement differs from what it says of itself."""
    routes: list[Route] = []
    for placement in sorted(placements, key=lambda placement: placement.sort_key):
        guard = placement.stage == "guard"
        if placement.stops and guard == bool(getattr(placement.route, "guards_commands", False)):
            routes.append(placement.route)
        else:
            routes.append(PlacedRoute(placement.route, guard, placement.stops))
    return routes


class ServiceRegistry:
    """What features offer each other, found by type (never by the other feature's name or internals).

    A feature that offers something calls `provide(obj)` at install; one that may use it calls `get(Type)`
    and works without it when the offering feature is not installed (order installs with `FeatureSpec.after`).
    """

    def __init__(self) -> None:
        self._services: dict[type, object] = {}

    def provide(self, service: object, as_type: type | None = None) -> None:
        self._services[as_type or type(service)] = service

    def get(self, service_type: type[T]) -> T | None:
        service = self._services.get(service_type)
        return service if isinstance(service, service_type) else None


@dataclass
class FeatureContext:
    """The core services a feature is built with, and where it registers what it adds.

    It is deliberately not the app: a feature sees the store, engine, gate, prompts, per-chat settings,
    the platforms it may post through and its own settings section, and registers routes, commands and
    hooks. Audit records go through `bot.audit` with `store`.
    """

    config: LoadedConfig
    store: Store
    engine: Engine
    gate: ModerationGate
    prompts: PromptLibrary
    chat_settings: ChatSettingsStore
    generation: GenerationSettings
    # Connected platforms, by name, for features that post or moderate on their own.
    senders: dict[str, Sender]
    deliver: Callable[[OutgoingMessage], Awaitable[bool]]
    manager: Callable[[], ConversationManager]
    services: ServiceRegistry = field(default_factory=ServiceRegistry)
    placements: list[RoutePlacement] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    prompt_hooks: list[PromptHook] = field(default_factory=list)
    # Every installed feature (the dashboard shows and acts on them); filled in before `start`.
    features: list[Feature] = field(default_factory=list)

    def add_route(self, route: Route, priority: int, stage: Stage = "answer", stops: bool = True) -> None:
        self.placements.append(RoutePlacement(route, priority, stage, stops))

    def add_command(self, command: Command) -> None:
        self.commands.append(command)

    def add_prompt_hook(self, hook: PromptHook) -> None:
        """`hook(turn) -> text` adds context for the model (remembered facts) after the persona prompt."""
        self.prompt_hooks.append(hook)

    def section(self, model: type[M]) -> M:
        """This feature's own settings section (the one its spec declares), validated by the config loader."""
        return self.config.section(model)


@runtime_checkable
class Feature(Protocol):
    """A capability (auto-replies, knowledge base, scheduling...) plugged into the bot.

    `install` registers routes, commands and hooks on the context (once, before the bot starts);
    `start`/`stop` begin and end background work; `forget_user` and `export_user` are the per-person
    data hooks (a feature that stores nothing about people returns 0 / []); `platform_connected` tells
    the feature a platform it may post through is now connected; `serve_before_start` runs before the model
    has loaded, for what must answer meanwhile (the /healthz server says "not ready").
    """

    name: str

    def install(self, context: FeatureContext) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def forget_user(self, platform: str, user_id: str) -> int: ...

    def export_user(self, platform: str, user_id: str) -> list[dict[str, Any]]: ...

    async def platform_connected(self, platform: str) -> None: ...

    async def serve_before_start(self) -> None: ...


class BaseFeature:
    """No-op defaults for the `Feature` hooks, so a feature writes only the ones it needs."""

    name = "feature"

    def install(self, context: FeatureContext) -> None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def forget_user(self, platform: str, user_id: str) -> int:
        return 0

    def export_user(self, platform: str, user_id: str) -> list[dict[str, Any]]:
        return []

    async def platform_connected(self, platform: str) -> None:
        return None

    async def serve_before_start(self) -> None:
        return None


@dataclass(frozen=True)
class FeatureSpec:
    """A feature's declaration: what the loader, the store and the CLI need before anything runs.

    It must import cheaply (settings model, migrations); `create` imports the feature itself.
    """

    name: str
    create: Callable[[LoadedConfig], Feature]
    # The config table this feature reads (`[name]`), and the pydantic model that validates it (the loader
    # adds it to the core's sections, with the same one-line errors; read it with `config.section(Model)`).
    settings_section: str = ""
    settings_model: type[BaseModel] | None = None
    # Secrets it reads (`config.secrets.value(key)`), from the environment variable or the secrets file.
    secrets: tuple[SecretSpec, ...] = ()
    # `section.key` -> why a release stopped reading it (a config that still sets it fails saying so).
    retired_keys: Mapping[str, str] = field(default_factory=dict)
    migrations: MigrationSet | None = None
    # Modules under which `COMMANDS` (click commands or groups) are found for the `socialbot` CLI.
    cli_modules: tuple[str, ...] = ()
    # Features whose services this one uses when they are installed (install them first).
    after: tuple[str, ...] = ()
    # Part of every bot unless the caller asks for it (`socialbot run` adds the ops server itself).
    default: bool = True
