"""A moderation gate whose classifiers finish loading in the background, after the bot is ready.

The bot shows its prompt (or connects its platforms) before the classifiers are loaded; the first message
that needs the gate waits for them. Texts registered with `protect` before then are handed to the real gate
when it arrives, so nothing is checked without them.

When the bot starts in the background (`bot.ops.startup.BackgroundStart`), inbox turns wait for the start on
the event loop before they reach the gate; other checks (a feature's background work) wait here until the
start is over, except the start's own work, which runs with `STARTING` set and waits for the classifiers only.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from contextvars import ContextVar

from bot.moderation.gate import ModerationDecision, ModerationGate, Strictness

# True in the task that starts the bot (and what it spawns): its checks must not wait for the start to end.
STARTING: ContextVar[bool] = ContextVar("socialbot_starting", default=False)


class BackgroundGate(ModerationGate):
    """Stands for the `ModerationGate` being built in `future`; every check runs on the real one."""

    def __init__(  # no super().__init__: nothing of its own
        self, future: Future[ModerationGate], turns_open: Future[None] | None = None
    ) -> None:
        self._future = future
        self._turns_open = turns_open
        self._lock = threading.Lock()
        self._pending_protected: list[str] = []
        self._real: ModerationGate | None = None

    def resolve(self, timeout: float | None = None) -> ModerationGate:
        """The real gate, waiting for it to load (raises what building it raised)."""
        if self._real is None:
            gate = self._future.result(timeout)
            with self._lock:
                if self._real is None:
                    for text in self._pending_protected:
                        gate.protect(text)
                    self._pending_protected.clear()
                    self._real = gate
        return self._real

    def wait_loaded(self, timeout: float | None = None) -> None:
        """Until the classifiers' load has ended, well or not (for a clean exit while it runs)."""
        concurrent.futures.wait([self._future], timeout)

    def _for_turn(self) -> ModerationGate:
        """The real gate, once the bot has started too (unless called by the start itself)."""
        if self._turns_open is not None and not STARTING.get():
            self._turns_open.result()  # raises why the start failed
        return self.resolve()

    @property
    def loaded(self) -> bool:
        return self._future.done()

    def protect(self, text: str) -> None:
        with self._lock:
            if self._real is None:
                self._pending_protected.append(text)
                return
        self._real.protect(text)

    def check_output(
        self,
        text: str,
        strictness: Strictness = "normal",
        link_allowlist: Sequence[str] | None = None,
        request: str | None = None,
        generated: bool = False,
    ) -> ModerationDecision:
        return self._for_turn().check_output(text, strictness, link_allowlist, request, generated)

    def check_input(self, text: str, strictness: Strictness = "normal") -> ModerationDecision:
        return self._for_turn().check_input(text, strictness)

    def __getattr__(self, name: str) -> object:
        """Any other part of the gate (policy, scorers...) is the real gate's, once it has loaded."""
        if name.startswith("__") or name in ("_future", "_turns_open", "_lock", "_pending_protected", "_real"):
            raise AttributeError(name)
        return getattr(self.resolve(), name)
