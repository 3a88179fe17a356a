"""The composition root: builds the store, engine, gate, prompts, features and manager from the config.

Features are found through the `socialbot.features` entry points (`bot.plugin_registry`) and built with a
`FeatureContext`; platforms connect through a `PlatformContext` (`platform_context()`): messages come in
only through `inbox` and go out only through `dispatcher`. Nothing here knows a feature or a platform.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.chat_settings import ChatSettingsStore
from bot.config import LoadedConfig, section_values
from bot.delivery import Sender
from bot.dispatch.dispatcher import Dispatcher, PlatformSender
from bot.dispatch.transport import Transport
from bot.engine.base import Engine, GenerationSettings
from bot.engine.settings import EngineSettings
from bot.inbox import Inbox
from bot.manager import ConversationManager, ManagerSettings
from bot.messages import OutgoingMessage
from bot.moderation.factory import build_gate
from bot.moderation.gate import ModerationGate
from bot.moderation.reply_probe import ReplyFeatureSource
from bot.platform import PlatformContext
from bot.plugin import Feature, FeatureContext, ordered_routes
from bot.plugin_registry import feature_specs, platform_spec, platform_specs
from bot.prompts import PromptLibrary
from bot.routing import CommandRegistry, Route
from bot.store import Store

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str], None]


def group_modes(config: LoadedConfig) -> dict[str, str]:
    """Each installed platform's group reply mode, as its `PlatformSpec` reads it from the config."""
    return {spec.name: spec.group_reply_mode(config) for spec in platform_specs()}


def default_features(config: LoadedConfig) -> list[Feature]:
    """Every installed feature that is part of every bot (`FeatureSpec.default`), in install order."""
    return [spec.create(config) for spec in feature_specs() if spec.default]


def feature_named(name: str, config: LoadedConfig) -> Feature:
    """One installed feature by its declared name (`socialbot run` adds `ops` this way)."""
    spec = next((spec for spec in feature_specs() if spec.name == name), None)
    if spec is None:
        raise LookupError(f"no feature '{name}' is installed")
    return spec.create(config)


@dataclass
class BotApp:
    """Everything a running bot holds, wired together; use as `async with BotApp.build(config) as app`.

    Platforms plug in through `connect(transport)`: messages come in only through `inbox`, and go out
    only through `dispatcher`.
    """

    config: LoadedConfig
    store: Store
    engine: Engine
    gate: ModerationGate
    prompts: PromptLibrary
    commands: CommandRegistry
    chat_settings: ChatSettingsStore
    context: FeatureContext
    features: list[Feature] = field(default_factory=list)
    # Connected platforms as `Sender`s, for features that post or moderate on their own.
    senders: dict[str, Sender] = field(default_factory=dict)
    bot_usernames: dict[str, str] = field(default_factory=dict)
    _manager: ConversationManager | None = None
    _dispatcher: Dispatcher | None = None
    _inbox: Inbox | None = None
    _background: set[asyncio.Task[None]] = field(default_factory=set)
    _catching_up: set[asyncio.Task[None]] = field(default_factory=set)

    def platform_context(self) -> PlatformContext:
        """What an adapter gets of this bot: the inbox, the dispatcher registration, commands and config."""
        return PlatformServices(self)

    @property
    def routes(self) -> list[Route]:
        """The feature routes in the order the manager asks them (by stage and priority)."""
        return ordered_routes(self.context.placements)

    @property
    def dispatcher(self) -> Dispatcher:
        """The one way out (chunking, recording, owed replies, progress, cross-platform messages)."""
        if self._dispatcher is None:
            self._dispatcher = Dispatcher(self.store, self.config.settings.delivery)
        return self._dispatcher

    @property
    def inbox(self) -> Inbox:
        """The one way in: adapters hand every translated message to `inbox.receive`."""
        if self._inbox is None:
            self._inbox = Inbox(self.manager, self.dispatcher, self.config.settings.delivery, self._shows_progress)
        return self._inbox

    def connect(self, transport: Transport) -> None:
        """A platform is connected (or reconnected): post through it, send what is owed to it, then
        answer what it left unanswered, in the background."""
        self.dispatcher.attach(transport)
        self.inbox.open()
        self.register_sender(PlatformSender(self.dispatcher, transport.platform))
        task = asyncio.get_running_loop().create_task(self._catch_up(transport.platform))
        self._catching_up.add(task)
        task.add_done_callback(self._catching_up.discard)

    def disconnect(self, transport: Transport) -> None:
        """A platform went away: messages for it stay owed until it connects again."""
        self.dispatcher.detach(transport)
        sender = self.senders.get(transport.platform)
        if isinstance(sender, PlatformSender):
            del self.senders[transport.platform]

    def set_bot_username(self, platform: str, username: str) -> None:
        """The bot's handle on a platform: `/command@other_bot` there is not for this bot."""
        self.bot_usernames[platform] = username
        if self._manager is not None:
            self._manager.bot_usernames[platform] = username

    def register_sender(self, sender: Sender) -> None:
        """A platform features may post through (features are told, so their owed posts go out now)."""
        self.senders[sender.platform] = sender
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # registered before the bot runs: features start with it in place
            return
        for feature in self.features:
            task = loop.create_task(feature.platform_connected(sender.platform))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def deliver(self, message: OutgoingMessage) -> bool:
        """Send through the dispatcher; False (still owed) when its platform is not connected."""
        return await self.dispatcher.deliver(message)

    async def drain(self) -> int:
        """Graceful stop, first half: no new turns; those in flight get `[delivery] shutdown_grace_s` to
        finish while the platforms are still connected. Returns the number cut off (answered next start)."""
        grace = self.config.settings.delivery.shutdown_grace_s
        loop = asyncio.get_running_loop()
        started = loop.time()
        if self._catching_up:
            await asyncio.wait(list(self._catching_up), timeout=grace)
        cut_off = await self.inbox.drain(max(0.0, grace - (loop.time() - started)))
        for task in list(self._catching_up):
            task.cancel()
        await asyncio.gather(*self._catching_up, return_exceptions=True)
        return cut_off

    async def _catch_up(self, platform: str) -> None:
        try:
            await self.dispatcher.deliver_owed(platform)
            await self.inbox.recover(platform)
        except Exception:
            log.exception("%s: could not catch up on owed replies and unanswered messages", platform)

    def _shows_progress(self, platform: str) -> bool:
        spec = platform_spec(platform)
        return spec is not None and spec.shows_progress(self.config)

    @property
    def manager(self) -> ConversationManager:
        if self._manager is None:
            self._manager = ConversationManager(
                self.store,
                self.engine,
                self.gate,
                self.prompts,
                manager_settings(self.config),
                routes=self.routes,
                commands=self.commands,
                addressing=self.chat_settings.addressing,
                strictness=self.chat_settings.strictness,
                persona_for=self.chat_settings.persona_for,
            )
            self._manager.bot_usernames.update(self.bot_usernames)
            self._manager.prompt_hooks.extend(self.context.prompt_hooks)
            self.gate.protect(self._manager.system_prompt())
            for feature in self.features:
                self._manager.forget_hooks.append(feature.forget_user)
        return self._manager

    @classmethod
    def build(
        cls,
        config: LoadedConfig,
        engine: Engine | None = None,
        gate: ModerationGate | None = None,
        features: Sequence[Feature] | None = None,
        progress: ProgressCallback = lambda line: None,
    ) -> BotApp:
        """Open the store, prepare the engine (not yet loaded) and gate, and install the features."""
        settings = config.settings
        store = Store.open(config.database_path)
        folders = [config.resolve_path(settings.bot.prompts_dir)] if settings.bot.prompts_dir else []
        prompts = PromptLibrary(folders)
        if engine is None:
            from bot.engine.factory import create_engine

            engine = create_engine(engine_settings(config))
        if gate is None:
            progress("loading moderation classifiers…")
            gate = build_gate(config, reply_features=engine_reply_features(engine))
        chat_settings = ChatSettingsStore(
            store, settings.bot.language, settings.bot.persona_prompt, group_modes(config)
        )
        senders: dict[str, Sender] = {}
        app: BotApp | None = None

        def manager() -> ConversationManager:
            assert app is not None
            return app.manager

        async def deliver(message: OutgoingMessage) -> bool:
            assert app is not None
            return await app.deliver(message)

        context = FeatureContext(
            config,
            store,
            engine,
            gate,
            prompts,
            chat_settings,
            manager_settings(config).generation,
            senders,
            deliver,
            manager,
        )
        app = cls(config, store, engine, gate, prompts, CommandRegistry(), chat_settings, context, senders=senders)
        app.features = default_features(config) if features is None else list(features)
        context.features = app.features
        for feature in app.features:
            feature.install(context)
        for command in context.commands:
            app.commands.add(command)
        return app

    async def start(self, progress: ProgressCallback = lambda line: None, background_work: bool = True) -> None:
        """Start the engine, then each feature's background work (warm-ups, workers, schedules).

        `background_work=False` is for a process that answers a message or two and exits (`socialbot ask`):
        features are not started (turns load what they need on first use, as a started feature would have
        loaded it beforehand), so none of their warm-ups, workers or schedules run.
        """
        progress(f"starting model {self.engine.model_name}…")  # loads it here unless it was loaded at build
        await self.engine.start()
        _ = self.manager
        if not background_work:
            return
        for feature in self.features:
            await feature.start()

    async def stop(self) -> None:
        if self._inbox is not None:
            await self.drain()
        for feature in reversed(self.features):  # a feature not started has nothing to stop: harmless
            try:
                await feature.stop()
            except Exception:
                log.exception("feature %s failed to stop", feature.name)
        await self.engine.stop()
        self.store.close()

    async def __aenter__(self) -> BotApp:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


class PlatformServices:
    """The narrow `PlatformContext` an adapter is given: only the way in, the way out, commands and config."""

    def __init__(self, app: BotApp) -> None:
        self._app = app

    @property
    def config(self) -> LoadedConfig:
        return self._app.config

    @property
    def inbox(self) -> Inbox:
        return self._app.inbox

    @property
    def dispatcher(self) -> Dispatcher:
        return self._app.dispatcher

    @property
    def commands(self) -> CommandRegistry:
        return self._app.commands

    def connect(self, transport: Transport) -> None:
        self._app.connect(transport)

    def disconnect(self, transport: Transport) -> None:
        self._app.disconnect(transport)

    async def drain(self) -> int:
        return await self._app.drain()

    def set_bot_username(self, platform: str, username: str) -> None:
        self._app.set_bot_username(platform, username)


def generation_settings(config: LoadedConfig) -> GenerationSettings:
    """`[generation]` as the engine's per-request settings."""
    section = config.settings.generation
    return GenerationSettings(**section_values(section, GenerationSettings, stop=tuple(section.stop)))


def manager_settings(config: LoadedConfig) -> ManagerSettings:
    """`[bot]` (and `[generation]`) as the manager's settings: its fields are the section's keys."""
    bot = config.settings.bot
    return ManagerSettings(
        **section_values(bot, ManagerSettings, bot_name=bot.name, generation=generation_settings(config))
    )


def engine_reply_features(engine: object) -> ReplyFeatureSource | None:
    """The harm check's reader of the engine's own hidden states, for an in-process engine (one with a loaded
    model to ask for); None for a remote one. Checked on the class, so asking never loads the model."""
    if engine is None or not hasattr(type(engine), "loaded"):
        return None
    from bot.engine.hidden_states import EngineFeaturesOnDemand

    return EngineFeaturesOnDemand(engine)  # type: ignore[arg-type]


def engine_settings(config: LoadedConfig) -> EngineSettings:
    """`[model]` as the engine's settings: its keys, with paths resolved against the config file's folder
    and the API key from the secrets."""
    model = config.settings.model
    api_key = config.secrets.openai_api_key
    return EngineSettings(
        **section_values(
            model,
            EngineSettings,
            model=str(config.resolve_path(model.name)) if model.name.startswith(("./", "../")) else model.name,
            cache_dir=config.resolve_path(model.cache_dir) if model.cache_dir else None,
            openai_api_key=api_key.get_secret_value() if api_key else None,
            openai_model=model.openai_model or "default",
        )
    )
