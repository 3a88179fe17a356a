"""Starting the bot quickly: the model loads while the moderation classifiers load on another thread.

The bot is ready (prompt shown, platforms connecting) once the model is loaded; the classifiers may still be
loading then, and the first message that needs them waits for them (`BackgroundGate`). Both loads are
largely torch work outside the GIL, so with two or more cores they overlap instead of adding up. Each
part's wall and CPU seconds are recorded in `StartupTimings` for `socialbot bench start`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.config import LoadedConfig

if TYPE_CHECKING:
    from bot.app import BotApp
    from bot.moderation.gate import ModerationGate

ProgressCallback = Callable[[str], None]


@dataclass
class StartupTimings:
    """Wall and CPU (this thread's) seconds of each part of a start; parts that overlap each count in full."""

    parts: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
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


def load_gate_in_background(config: LoadedConfig, timings: StartupTimings) -> ModerationGate:
    """A gate whose classifiers load on a daemon thread from now on."""
    from bot.ops.background_gate import BackgroundGate

    future: Future[ModerationGate] = Future()

    def build() -> None:
        try:
            with timings.part("classifiers"):
                from bot.moderation.factory import build_gate

                gate = build_gate(config)
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(gate)

    threading.Thread(target=build, name="socialbot-classifiers-load", daemon=True).start()
    return BackgroundGate(future)


def build_app_in_parallel(
    config: LoadedConfig,
    progress: ProgressCallback = lambda line: None,
    timings: StartupTimings | None = None,
    **build_options: Any,
) -> BotApp:
    """`BotApp.build` with the local model loaded now (on this thread) while the classifiers load on another.

    Raises the engine's `ModelLoadError` (an `EngineError`) or `StoreError` like a plain build and start would.
    `build_options` go to `BotApp.build` (features, ...); an `engine` or `gate` given there is used as is.
    """
    timings = timings if timings is not None else StartupTimings()
    with timings.part("imports.app"):
        from bot.app import BotApp, engine_settings

    if "gate" not in build_options:
        progress("loading moderation classifiers (in the background)…")
        build_options["gate"] = load_gate_in_background(config, timings)
    settings = engine_settings(config)
    if "engine" not in build_options and settings.backend == "transformers":
        progress(f"loading model {settings.model}…")
        with timings.part("model"):
            from bot.engine.loader import load_model
            from bot.engine.transformers_engine import TransformersEngine

            build_options["engine"] = TransformersEngine(
                settings, progress=progress, loaded=load_model(settings, progress)
            )
    with timings.part("store+features"):
        return BotApp.build(config, progress=progress, **build_options)
