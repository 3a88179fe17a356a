"""Starting the bot quickly: nothing a person waits for waits for torch.

The console prompt shows before the bot is built (bot/cli/chat_cmd.py); the build (store, features, commands)
comes next and then the platforms connect (`BackgroundStart`), while the model (`BackgroundEngine`) and the
moderation classifiers (`BackgroundGate`) load in parallel on two threads. Messages are stored as they arrive; a
turn that needs the model waits for it. Each part's wall and CPU seconds are recorded in `StartupTimings`
for `socialbot bench start`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.config import LoadedConfig
from bot.ops.background_engine import BackgroundEngine
from bot.ops.background_gate import STARTING, BackgroundGate

if TYPE_CHECKING:
    from bot.app import BotApp
    from bot.moderation.gate import ModerationGate
    from bot.moderation.reply_probe import ReplyFeatureSource

ProgressCallback = Callable[[str], None]


@dataclass
class StartupTimings:
    """Wall and CPU (this thread's) seconds of each part of a start; parts that overlap each count in full."""

    parts: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    ended_at: dict[str, float] = field(default_factory=dict)  # time.time() when each part last ended
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        started, started_cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            wall, cpu = time.perf_counter() - started, time.thread_time() - started_cpu
            with self._lock:
                self.parts[name] = self.parts.get(name, 0.0) + wall
                self.cpu[name] = self.cpu.get(name, 0.0) + cpu
                self.ended_at[name] = time.time()


_WARM_UP_REPLY = "Thanks for asking, our team will look at your order and get back to you today."


def load_gate_in_background(
    config: LoadedConfig,
    timings: StartupTimings,
    turns_open: Future[None] | None = None,
    begin_after: threading.Event | None = None,
    warm: bool = True,
    reply_features: ReplyFeatureSource | None = None,
) -> ModerationGate:
    """A gate whose classifiers load on a daemon thread (from now on, or once `begin_after` is set); its turns
    also wait for `turns_open`. With `warm`, the thread also scores a sample reply with them, so the libraries the
    harm and Chinese models import on their first text (scikit-learn, SciPy: ~1 CPU-s) are loaded before a
    customer's reply waits on them; a one-message process (`ask`) skips that, as a curated reply needs neither."""
    future: Future[ModerationGate] = Future()

    def build() -> None:
        if begin_after is not None:
            begin_after.wait()
        try:
            with timings.part("classifiers"):
                from bot.moderation.factory import build_gate

                gate = build_gate(config, reply_features=reply_features)
                if warm:
                    for scorer in (gate.harm, *gate.language_models.values()):
                        if scorer is not None:
                            scorer.score(_WARM_UP_REPLY)
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(gate)

    threading.Thread(target=build, name="socialbot-classifiers-load", daemon=True).start()
    return BackgroundGate(future, turns_open)


def build_app_in_parallel(
    config: LoadedConfig,
    progress: ProgressCallback = lambda line: None,
    timings: StartupTimings | None = None,
    turns_open: Future[None] | None = None,
    begin_loads: threading.Event | None = None,
    model_on_demand: bool = False,
    **build_options: Any,
) -> BotApp:
    """`BotApp.build`, then the local model and the classifiers loading on two threads in parallel (with
    `model_on_demand`, the model only once a turn needs it: for a process that answers one message and exits).

    The model and classifiers are not waited for here: `app.start()` waits for the model, and the gate's
    first check for the classifiers. Raises `StoreError` like a plain build; a model that cannot load is
    raised by `app.start()` (`ModelLoadError`, an `EngineError`). `build_options` go to `BotApp.build`
    (features, ...); an `engine` or `gate` given there is used as is. The loads begin when the build is over,
    or, given `begin_loads`, once the caller sets it.
    """
    timings = timings if timings is not None else StartupTimings()
    with timings.part("imports.app"):
        from bot.app import BotApp, engine_reply_features, engine_settings

    settings = engine_settings(config)
    # The loads begin once the build is over: they hold the GIL as much as the build does, so overlapping
    # them only delays the build (measured at load 15: platforms could connect at 9.6-12.3 s this way,
    # 14.9-15.5 s overlapped; the first reply came no later).
    build_done = begin_loads if begin_loads is not None else threading.Event()
    if "engine" not in build_options and settings.backend == "transformers":
        if model_on_demand:
            progress(f"model {settings.model}: loaded if the reply needs it…")
        else:
            progress(f"loading model {settings.model} (in the background)…")
        build_options["engine"] = BackgroundEngine(settings, progress, timings.part, build_done, model_on_demand)
    if "gate" not in build_options:
        progress("loading moderation classifiers (in the background)…")
        build_options["gate"] = load_gate_in_background(
            config,
            timings,
            turns_open,
            build_done,
            warm=not model_on_demand,
            reply_features=engine_reply_features(build_options.get("engine")),
        )
    try:
        with timings.part("build (store, features)"):
            return BotApp.build(config, progress=progress, **build_options)
    finally:
        if begin_loads is None:
            build_done.set()


class BackgroundStart:
    """The bot built now and started in the background, so platforms connect without waiting for torch.

    Building opens the store and installs the features (routes, commands): adapters can connect and the
    inbox stores every message as it arrives. `begin()` then starts the bot (model, classifiers, features)
    as a task; a turn that arrives meanwhile waits (`Manager.before_turn`) until the start is over and is answered then,
    never with an error text. Features with `serve_before_start()` (the /healthz server) are started
    before the model and classifiers load (once the platforms are connected, with `hold_loads_s`), so a
    probe sees "not ready" instead of a refused connection.
    """

    def __init__(
        self,
        config: LoadedConfig,
        progress: ProgressCallback = lambda line: None,
        timings: StartupTimings | None = None,
        hold_loads_s: float = 0.0,
        **build_options: Any,
    ) -> None:
        """`hold_loads_s` > 0: the model and classifiers begin to load only once `release_loads()` is called
        (when the platforms are connected), or that many seconds after the start began, whichever is first:
        torch's import and the loads hold the GIL, and connecting beside them takes twice as long."""
        self.timings = timings if timings is not None else StartupTimings()
        self._turns_open: Future[None] = Future()
        self._loads_may_begin = threading.Event()
        self._hold_loads_s = hold_loads_s
        self._loads_released: asyncio.Event | None = None
        given_gate = build_options.get("gate")
        if given_gate is not None:  # a gate given as is: turns still wait for the start
            built: Future[ModerationGate] = Future()
            built.set_result(given_gate)
            build_options["gate"] = BackgroundGate(built, self._turns_open)
        try:
            self.app = build_app_in_parallel(
                config, progress, self.timings, self._turns_open, self._loads_may_begin, **build_options
            )
        finally:
            if hold_loads_s <= 0:  # the loads begin once the build is over
                self._loads_may_begin.set()
        self._task: asyncio.Task[None] | None = None
        self._start_over: asyncio.Event | None = None
        self.ready_at: float | None = None  # time.time() when the start ended
        self._hold_turns_until_started()

    def _hold_turns_until_started(self) -> None:
        """Turns wait for the start on the event loop, before the manager runs anything.

        Waiting inside the gate instead would park one thread of the loop's default executor per waiting
        conversation, and the start needs those threads itself: with more waiting conversations than
        threads (six on two cores) it deadlocked (tests/test_delivery_end_to_end.py, 10 users). A turn of a
        start that failed or was cancelled raises here and its message stays stored, unanswered, for the
        next start; no error text is sent.
        """

        async def unless_starting() -> None:
            if not STARTING.get():  # the start's own checks do not wait for the start
                await self._wait_start_over()

        self.app.manager.before_turn = unless_starting

    async def _wait_start_over(self) -> None:
        if not self._turns_open.done():
            if self._start_over is None:
                self._start_over = asyncio.Event()
            await self._start_over.wait()
        self._turns_open.result()  # raises why the start failed

    def begin(self, progress: ProgressCallback = lambda line: None) -> asyncio.Task[None]:
        """Start the bot in a task (once); the task raises why the start failed."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._start(progress), name="socialbot-start")
        return self._task

    def release_loads(self) -> None:
        """The platforms are connected: the model and classifiers may load now (see `hold_loads_s`)."""
        self._loads_may_begin.set()
        if self._loads_released is not None:
            self._loads_released.set()

    async def _hold_loads(self) -> None:
        if self._loads_may_begin.is_set():
            return
        self._loads_released = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._loads_released.wait(), self._hold_loads_s)
        self._loads_may_begin.set()

    @property
    def ready(self) -> bool:
        """The model is up and every feature started: turns are answered now."""
        return self._turns_open.done() and self._turns_open.exception() is None

    async def wait_ready(self) -> None:
        """Until the start is over (raises why it failed)."""
        await asyncio.shield(self.begin())

    async def settle(self, timeout_s: float = 120.0) -> None:
        """Let a start still in progress end (cancelled: its loads run on threads that cannot be stopped and
        that must not be torn down mid-load at exit); called before stopping the bot."""
        task = self._task
        if task is not None and not task.done():
            # A turn waiting for the start is left stored for the next start, not answered with an error.
            self.app.manager.shutting_down = True
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._loads_may_begin.set()  # loads still held run now, so their threads end before the process does
        engine, gate = self.app.engine, self.app.gate
        waits = []
        if isinstance(engine, BackgroundEngine):
            waits.append(asyncio.to_thread(engine.wait_loaded, timeout_s))
        if isinstance(gate, BackgroundGate):
            waits.append(asyncio.to_thread(gate.wait_loaded, timeout_s))
        await asyncio.gather(*waits)

    async def _start(self, progress: ProgressCallback) -> None:
        STARTING.set(True)  # this task's own context: the start's own checks do not wait for the start
        try:
            await self._hold_loads()
            for feature in self.app.features:  # after the platforms connected: aiohttp is imported here
                await feature.serve_before_start()
            with self.timings.part("engine+features start"):
                await self.app.start(progress=progress)
            gate = self.app.gate
            if isinstance(gate, BackgroundGate):  # ready means the classifiers are loaded too
                await asyncio.to_thread(gate.resolve)
        except BaseException as exc:
            if not self._turns_open.done():
                self._turns_open.set_exception(exc if isinstance(exc, Exception) else RuntimeError("start cancelled"))
            if self._start_over is not None:
                self._start_over.set()
            raise
        self.ready_at = time.time()
        self._turns_open.set_result(None)
        if self._start_over is not None:
            self._start_over.set()


def start_failure(exc: BaseException) -> str:
    """What to tell a person when the start failed (the model, the database, or something else)."""
    from bot.engine.base import EngineError
    from bot.store import StoreError

    if isinstance(exc, EngineError):
        return f"model error: {exc}"
    if isinstance(exc, StoreError):
        return f"database error: {exc}"
    return f"startup failed: {exc}"
