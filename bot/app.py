"""The composition root: builds the store, engine, gate, prompts, features and manager from the config.

Adapters receive a started `BotApp`, connect their transport and hand messages to its inbox; nothing here
knows a platform.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.addressing import addressed_by_default, group_modes_from
from bot.config import LoadedConfig
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
from bot.prompts import PromptLibrary
from bot.routing import CommandRegistry, Route
from bot.store import Store

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str], None]


class Feature(Protocol):
    """A capability (auto-replies, knowledge base, tickets, scheduling...) plugged into the manager."""

    name: str

    def install(self, app: BotApp) -> None:
        """Register routes, commands and policies on `app` (called once, before the manager exists)."""

    async def start(self, app: BotApp) -> None:
        """Begin background work (after the engine is loaded)."""

    async def stop(self) -> None:
        """End background work."""


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
    routes: list[Route] = field(default_factory=list)
    features: list[Any] = field(default_factory=list)
    manager_options: dict[str, Any] = field(default_factory=dict)
    # Connected platforms as `Sender`s, for features that post or moderate on their own.
    senders: dict[str, Sender] = field(default_factory=dict)
    _manager: ConversationManager | None = None
    _dispatcher: Dispatcher | None = None
    _inbox: Inbox | None = None
    _background: set[asyncio.Task[None]] = field(default_factory=set)
    _catching_up: set[asyncio.Task[None]] = field(default_factory=set)

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

    def register_sender(self, sender: Sender) -> None:
        """A platform features may post through (features are told, so their owed posts go out now)."""
        self.senders[sender.platform] = sender
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # registered before the bot runs: features start with it in place
            return
        for feature in self.features:
            hook = getattr(feature, "sender_registered", None)
            if hook is not None:
                task = loop.create_task(hook(sender.platform))
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
        section = getattr(self.config.settings, platform, None)
        return bool(getattr(section, "show_progress", False))

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
                **self.manager_options,
            )
            self.gate.protect(self._manager.system_prompt())
            for feature in self.features:
                forget = getattr(feature, "forget_user", None)
                if forget is not None:
                    self._manager.forget_hooks.append(forget)
        return self._manager

    @classmethod
    def build(
        cls,
        config: LoadedConfig,
        engine: Engine | None = None,
        gate: ModerationGate | None = None,
        features: list[Any] | None = None,
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
            gate = build_gate(config)
        app = cls(config, store, engine, gate, prompts, CommandRegistry())
        modes = group_modes_from(settings)
        app.manager_options["addressing"] = lambda message: addressed_by_default(message, modes)
        app.features = default_features(config) if features is None else features
        for feature in app.features:
            feature.install(app)
        return app

    async def start(self, progress: ProgressCallback = lambda line: None) -> None:
        progress(f"starting model {self.engine.model_name}…")  # loads it here unless it was loaded at build
        await self.engine.start()
        _ = self.manager
        for feature in self.features:
            await feature.start(self)

    async def stop(self) -> None:
        if self._inbox is not None:
            await self.drain()
        for feature in reversed(self.features):
            try:
                await feature.stop()
            except Exception:
                log.exception("feature %s failed to stop", getattr(feature, "name", feature))
        await self.engine.stop()
        self.store.close()

    async def __aenter__(self) -> BotApp:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


def manager_settings(config: LoadedConfig) -> ManagerSettings:
    bot, generation = config.settings.bot, config.settings.generation
    return ManagerSettings(
        bot_name=bot.name,
        community_name=bot.community_name,
        tone=bot.tone,
        persona_prompt=bot.persona_prompt,
        history_token_budget=bot.history_token_budget,
        max_input_chars=bot.max_input_chars,
        busy_reply=bot.busy_reply,
        error_reply=bot.error_reply,
        progress_interval_s=bot.progress_interval_s,
        generation=GenerationSettings(
            max_new_tokens=generation.max_new_tokens,
            temperature=generation.temperature,
            top_p=generation.top_p,
            repetition_penalty=generation.repetition_penalty,
            stop=tuple(generation.stop),
        ),
    )


def engine_settings(config: LoadedConfig) -> EngineSettings:
    model = config.settings.model
    api_key = config.secrets.openai_api_key
    return EngineSettings(
        backend=model.backend,
        model=str(config.resolve_path(model.name)) if model.name.startswith(("./", "../")) else model.name,
        cache_dir=config.resolve_path(model.cache_dir) if model.cache_dir else None,
        dtype=model.dtype,
        quantize_int8=model.quantize_int8,
        threads=model.threads,
        device=model.device,
        max_queue=model.max_queue,
        request_timeout_s=model.request_timeout_s,
        max_concurrent_sequences=model.max_concurrent_sequences,
        kv_cache_budget_mb=model.kv_cache_budget_mb,
        kv_dtype=model.kv_dtype,
        prefill_chunk_tokens=model.prefill_chunk_tokens,
        native_attention=model.native_attention,
        openai_base_url=model.openai_base_url,
        openai_api_key=api_key.get_secret_value() if api_key else None,
        openai_model=model.openai_model or "default",
    )


def default_features(config: LoadedConfig) -> list[Any]:
    """The features every bot runs, in routing order. Each feature adds itself here."""
    features: list[Any] = []
    features.append(rules_feature(config))  # first: mutes, rate limits and auto-replies before everything else
    features.append(automod_feature(config))
    features.append(memory_feature(config))  # before the KB: memory follow-ups are answered from memory
    features.append(privacy_feature(config))  # /export, complete /forgetme, daily retention
    features.append(kb_feature(config))  # after auto-reply rules: a matching rule answers before the KB
    features.append(scheduling_feature(config))
    features.append(insight_feature(config))
    features.append(policy_feature(config))  # answers what no feature took, by the kind of message
    features.append(dashboard_feature(config))  # last: serves pages over the started features
    return features


def rules_feature(config: LoadedConfig) -> Any:
    from bot.rules.feature import RulesFeature

    return RulesFeature(config.settings.rules)


def memory_feature(config: LoadedConfig) -> Any:
    from bot.memory.feature import MemoryFeature

    return MemoryFeature()


def privacy_feature(config: LoadedConfig) -> Any:
    from bot.privacy.feature import PrivacyFeature

    return PrivacyFeature()


def scheduling_feature(config: LoadedConfig) -> Any:
    from bot.scheduling.feature import SchedulingFeature

    return SchedulingFeature()


def policy_feature(config: LoadedConfig) -> Any:
    from bot.policy.feature import PolicyFeature

    return PolicyFeature()


def kb_feature(config: LoadedConfig) -> Any:
    from bot.kb.feature import KbFeature

    return KbFeature()


def insight_feature(config: LoadedConfig) -> Any:
    from bot.insight.feature import InsightFeature

    return InsightFeature(config.settings.insight)


def dashboard_feature(config: LoadedConfig) -> Any:
    from bot.dashboard.feature import DashboardFeature

    return DashboardFeature()


def automod_feature(config: LoadedConfig) -> Any:
    from bot.automod.feature import AutomodFeature
    from bot.automod.policy import AutomodPolicy
    from bot.messages import ConversationKey

    section = config.settings.automod
    policy = AutomodPolicy(
        warn_threshold=section.warn_threshold,
        delete_threshold=section.delete_threshold,
        timeout_threshold=section.timeout_threshold,
        timeout_minutes=section.timeout_minutes,
        repeat_timeout_minutes=section.repeat_timeout_minutes,
        escalation_window_minutes=section.escalation_window_minutes,
        mode=section.mode if section.enabled else "off",
    )
    staff = ConversationKey(section.staff_platform, section.staff_chat_id) if section.staff_chat_id else None
    return AutomodFeature(policy, dict(section.chat_modes), staff)
