"""An engine whose model loads on its own thread from the moment the bot is built, or when a turn first needs it.

The bot connects its platforms (and shows the console prompt) without waiting for torch: messages are stored
as they arrive, and a turn that needs the model waits here until it is up — it never fails for being early.
A process that answers one message and exits (`socialbot ask`) loads the model only if that turn needs it
(`on_demand`): a curated or fixed reply needs no model.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

from bot.engine.base import ChatTurn, EngineStats, GenerationRequest, GenerationResult
from bot.engine.settings import EngineSettings

if TYPE_CHECKING:
    from bot.engine.loader import LoadedModel
    from bot.engine.transformers_engine import TransformersEngine

ProgressCallback = Callable[[str], None]
# Times a named part of the start (`StartupTimings.part`).
TimedPart = Callable[[str], AbstractContextManager[None]]


class BackgroundEngine:
    """Stands for the local `TransformersEngine` while its model loads; every call runs on the real one.

    The load begins at once, or once `begin_after` is set. `start` waits for the load and starts the real
    engine; `generate` and `stream` wait for that start, `count_tokens` for the load only. A failed load is
    raised by `start` (and by any call after it). With `on_demand`, nothing loads until a call needs the model:
    `start` returns at once, and the first `generate`, `stream`, `count_tokens` or `loaded` loads and starts it.
    """

    def __init__(
        self,
        settings: EngineSettings,
        progress: ProgressCallback = lambda line: None,
        timed: TimedPart | None = None,
        begin_after: threading.Event | None = None,
        on_demand: bool = False,
    ) -> None:
        self.settings = settings
        self._progress = progress
        self._loaded: Future[TransformersEngine] = Future()
        self._started = threading.Event()
        self._start_lock: asyncio.Lock | None = None
        self._on_demand = on_demand
        waits_for = None if on_demand else begin_after
        self._thread = threading.Thread(
            target=self._load, args=(timed, waits_for), name="socialbot-model-load", daemon=True
        )
        self._thread_lock = threading.Lock()
        if not on_demand:
            self._thread.start()

    @property
    def load_begun(self) -> bool:
        """Whether the model has begun loading (with `on_demand`, only once a call needed it)."""
        return self._thread.ident is not None

    def _begin_load(self) -> None:
        with self._thread_lock:
            if self._thread.ident is None:
                self._thread.start()

    def _load(self, timed: TimedPart | None, begin_after: threading.Event | None) -> None:
        if begin_after is not None:
            begin_after.wait()
        try:
            with timed("model") if timed is not None else nullcontext():
                from bot.engine.loader import load_model
                from bot.engine.transformers_engine import TransformersEngine

                engine = TransformersEngine(
                    self.settings,
                    progress=self._progress,
                    loaded=load_model(self.settings, self._progress, direct=True),
                )
        except BaseException as exc:
            self._loaded.set_exception(exc)
        else:
            self._loaded.set_result(engine)

    # readiness ----------------------------------------------------------------------------------------

    @property
    def model_loaded(self) -> bool:
        return self._loaded.done() and self._loaded.exception() is None

    @property
    def ready(self) -> bool:
        """The real engine has started: replies are generated now."""
        return self._started.is_set()

    def wait_loaded(self, timeout: float | None = None) -> None:
        """Until the load has ended, well or not (for a clean exit while it runs); at once if it never began."""
        if self.load_begun:
            concurrent.futures.wait([self._loaded], timeout)

    def real(self, timeout: float | None = None) -> TransformersEngine:
        """The loaded engine, waiting (on this thread) for the load; raises what loading raised."""
        self._begin_load()
        return self._loaded.result(timeout)

    async def _wait_started(self) -> TransformersEngine:
        if not self._started.is_set():
            await self._start_real()
        return self._loaded.result()

    # Engine protocol ---------------------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        if self.model_loaded:
            return self._loaded.result().model_name
        return self.settings.model

    @property
    def loaded(self) -> LoadedModel:
        """The model and tokenizer (waits for the load)."""
        return self.real().loaded

    async def start(self) -> None:
        """Wait for the model and start the real engine (with `on_demand`: later, when a call needs it)."""
        if not self._on_demand:
            await self._start_real()

    async def _start_real(self) -> None:
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._started.is_set():
                return
            self._begin_load()
            # Shielded: a cancelled wait must not cancel the future the loading thread will complete.
            engine = await asyncio.shield(asyncio.wrap_future(self._loaded))
            await engine.start()
            self._started.set()

    async def stop(self) -> None:
        """Stop the real engine if it started; a load still in progress is left to finish on its daemon thread."""
        if self._started.is_set():
            await self._loaded.result().stop()
            self._started.clear()

    def count_tokens(self, messages: Sequence[ChatTurn]) -> int:
        return self.real().count_tokens(messages)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        engine = await self._wait_started()
        return await engine.generate(request)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        engine = await self._wait_started()
        async for piece in engine.stream(request):
            yield piece

    def forget_conversation(self, conversation_id: str) -> None:
        if self.model_loaded:
            self._loaded.result().forget_conversation(conversation_id)

    def stats(self) -> EngineStats:
        """The real engine's figures once started; before that, not alive and idle."""
        if self._started.is_set():
            return self._loaded.result().stats()
        capacity = self.settings.max_concurrent_sequences + self.settings.max_queue
        return EngineStats("transformers", False, 0, 0, capacity, 0, 0)
