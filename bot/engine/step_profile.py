"""Where the time of one decode step goes: matmuls, attention, sampling, other torch ops, Python.

The benchmark asks the scheduler's worker to time a few decode steps plainly, then a few more
under ``torch.profiler``, once a given number of sequences are all decoding. Each profiled step
runs inside a ``socialbot::step`` region; attention and sampling mark their own regions (only while
a profile runs, so the hot path pays one flag check). Time inside a step not covered by any torch
op is Python and framework overhead: module calls, argument handling, list building.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from torch.profiler import ProfilerActivity, profile, record_function

STEP = "socialbot::step"
ATTENTION = "socialbot::attention"
SAMPLING = "socialbot::sampling"
# Every decoder layer of a decode-only step in one C call (bot/engine/fused_decode.py): its matmuls and
# attention are inside it, so they are reported as one figure.
FUSED_LAYERS = "socialbot::fused_layers"
MATMUL_OPS = frozenset(
    {
        "aten::linear",
        "aten::addmm",
        "aten::mm",
        "aten::matmul",
        "aten::bmm",
        "quantized::linear_dynamic",
        "socialbot::int8_linear",
    }
)

_profiling = False


def region(name: str) -> contextlib.AbstractContextManager[Any]:
    """A named profiler region while a step profile runs; nothing otherwise."""
    return record_function(name) if _profiling else contextlib.nullcontext()


@dataclass(frozen=True)
class StepBreakdown:
    """Mean milliseconds per decode step, by where they go, at one number of sequences."""

    sequences: int
    steps: int
    plain_step_ms: float
    profiled_step_ms: float
    matmul_ms: float
    attention_ms: float
    sampling_ms: float
    other_ops_ms: float
    python_ms: float
    ops_per_step: float
    fused_layers_ms: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {key: round(value, 3) if isinstance(value, float) else value for key, value in self.__dict__.items()}


class _Event(Protocol):
    name: str
    cpu_time_total: float
    self_cpu_time_total: float
    cpu_children: Sequence[_Event]


@dataclass
class _Totals:
    matmul: float = 0.0
    attention: float = 0.0
    sampling: float = 0.0
    fused: float = 0.0
    other: float = 0.0
    ops: int = 0


def _classify(event: _Event, totals: _Totals) -> None:
    totals.ops += 1
    if event.name in MATMUL_OPS:
        totals.matmul += event.cpu_time_total
    elif event.name == ATTENTION:
        totals.attention += event.cpu_time_total
    elif event.name == SAMPLING:
        totals.sampling += event.cpu_time_total
    elif event.name == FUSED_LAYERS:
        totals.fused += event.cpu_time_total
    else:
        totals.other += event.self_cpu_time_total
        for child in event.cpu_children:
            _classify(child, totals)


def summarize(events: Sequence[_Event], sequences: int, plain_step_s: Sequence[float]) -> StepBreakdown:
    """Fold profiler events (microseconds) into a per-step breakdown."""
    steps = [event for event in events if event.name == STEP]
    totals = _Totals()
    covered = 0.0
    for step in steps:
        for child in step.cpu_children:
            covered += child.cpu_time_total
            _classify(child, totals)
    count = max(1, len(steps))
    step_us = sum(step.cpu_time_total for step in steps)
    per = 1 / (count * 1000)  # microseconds summed over steps -> milliseconds per step
    return StepBreakdown(
        sequences=sequences,
        steps=len(steps),
        plain_step_ms=1000 * sum(plain_step_s) / max(1, len(plain_step_s)),
        profiled_step_ms=step_us * per,
        matmul_ms=totals.matmul * per,
        attention_ms=totals.attention * per,
        sampling_ms=totals.sampling * per,
        other_ops_ms=totals.other * per,
        python_ms=max(0.0, step_us - covered) * per,
        ops_per_step=totals.ops / count,
        fused_layers_ms=totals.fused * per,
    )


class StepProfiler:
    """Armed from the event loop, run by the worker: a few plain decode steps, then profiled ones.

    ``ready`` holds once exactly ``sequences`` sequences are all decoding; ``result`` resolves with
    the breakdown (or the error) when the profiled steps are done.
    """

    def __init__(self, sequences: int, steps: int) -> None:
        self.sequences = sequences
        self.steps = steps
        self.result: Future[StepBreakdown] = Future()
        self._plain: list[float] = []
        self._profiled = 0
        self._profile: profile | None = None

    def ready(self, decoding: int, active: int) -> bool:
        return decoding == active == self.sequences

    def run(self, step: Callable[[], None]) -> bool:
        """Run one step, timed or profiled; True when the profile is complete."""
        global _profiling
        if len(self._plain) < self.steps:
            started = time.perf_counter()
            step()
            self._plain.append(time.perf_counter() - started)
            return False
        if self._profile is None:
            self._profile = profile(activities=[ProfilerActivity.CPU])
            self._profile.__enter__()
            _profiling = True
        try:
            with record_function(STEP):
                step()
        except BaseException:
            self._finish(failed=True)
            raise
        self._profiled += 1
        if self._profiled < self.steps:
            return False
        self._finish(failed=False)
        return True

    def _finish(self, failed: bool) -> None:
        global _profiling
        _profiling = False
        prof, self._profile = self._profile, None
        if prof is None:
            return
        prof.__exit__(None, None, None)
        if failed:
            self.result.set_exception(RuntimeError("a profiled step failed"))
            return
        try:
            self.result.set_result(summarize(list(prof.events()), self.sequences, self._plain))
        except Exception as exc:  # the profile is a report, never a reason to fail serving
            self.result.set_exception(exc)


def format_breakdown(rows: Sequence[StepBreakdown]) -> str:
    """The per-step breakdown as a plain-text table."""
    lines = [
        "per decode step (ms; profiled, so op times include the profiler's own overhead; 'C layers' is every"
        " decoder layer in one call, its matmuls and attention included):",
        f"{'seqs':>4} {'plain':>7} {'profiled':>8} {'matmul':>7} {'attn':>7} {'sample':>7} {'other ops':>9}"
        f" {'python':>7} {'ops/step':>8} {'C layers':>8}",
    ]
    for row in rows:
        lines.append(
            f"{row.sequences:>4} {row.plain_step_ms:>7.2f} {row.profiled_step_ms:>8.2f} {row.matmul_ms:>7.2f}"
            f" {row.attention_ms:>7.2f} {row.sampling_ms:>7.2f} {row.other_ops_ms:>9.2f} {row.python_ms:>7.2f}"
            f" {row.ops_per_step:>8.0f} {row.fused_layers_ms:>8.2f}"
        )
    return "\n".join(lines)
