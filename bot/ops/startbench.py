"""`socialbot bench start`: how long the bot takes to be ready and to answer, cold and warm, part by part.

Each start runs in a fresh Python process (`bot.ops.startprobe`), so imports count like they do for a user.
Cold: the model cache is empty (the bundled model is converted first, as on a first install). Warm: the
converted model is cached (and its files are likely in the OS page cache). The database is a temporary one.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PART_ORDER = (
    "interpreter",
    "imports.cli",
    "config",
    "model",
    "classifiers",
    "store+features",
    "engine+features start",
    "console adapter",
    "reply",
)


class StartBenchError(Exception):
    """A measured start failed; carries the child's error output."""


@dataclass(frozen=True)
class StartRun:
    """One measured start: seconds to ready and to the first reply, and each part's wall (and CPU) seconds."""

    kind: str  # "cold", "warm", or "sequential" (warm, classifiers loaded before the model, for comparison)
    ready_s: float
    classifiers_done_s: float
    ask_s: float
    parts: dict[str, float]
    cpu: dict[str, float]
    model_source: str | None


@dataclass(frozen=True)
class StartReport:
    """Every run, and the figures a person reads: cold, and the median of the warm runs."""

    runs: list[StartRun] = field(default_factory=list)
    ask_cli_s: float | None = None
    load_average: tuple[float, float, float] | None = None

    def median(self, kind: str, value: Callable[[StartRun], float]) -> float | None:
        values = [value(run) for run in self.runs if run.kind == kind]
        return statistics.median(values) if values else None

    def as_dict(self) -> dict[str, object]:
        return {
            "runs": [run.__dict__ for run in self.runs],
            "warm_median": {
                "ready_s": self.median("warm", lambda run: run.ready_s),
                "ask_s": self.median("warm", lambda run: run.ask_s),
                "classifiers_done_s": self.median("warm", lambda run: run.classifiers_done_s),
            },
            "sequential_median": {
                "ready_s": self.median("sequential", lambda run: run.ready_s),
                "ask_s": self.median("sequential", lambda run: run.ask_s),
            },
            "ask_cli_s": self.ask_cli_s,
            "load_average": self.load_average,
        }


def _probe(config_path: str | None, env: dict[str, str], kind: str, question: str) -> StartRun:
    command = [sys.executable, "-m", "bot.ops.startprobe", "--question", question, "--spawned-at"]
    args = ["--config", config_path] if config_path else []
    if kind == "sequential":
        args.append("--sequential")
    completed = subprocess.run(
        [*command, repr(time.time()), *args], capture_output=True, text=True, env=env, check=False
    )
    if completed.returncode != 0:
        raise StartBenchError(f"{kind} start failed:\n{completed.stderr[-2000:]}")
    data = json.loads(completed.stdout.strip().splitlines()[-1])
    return StartRun(
        kind=kind,
        ready_s=data["ready_s"],
        classifiers_done_s=data["classifiers_done_s"],
        ask_s=data["ask_s"],
        parts=data["parts"],
        cpu=data["cpu"],
        model_source=data["model_source"],
    )


def _time_cli_ask(config_path: str | None, env: dict[str, str], question: str) -> float:
    args = ["--config", config_path] if config_path else []
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", "from bot.cli.main import main; main()", *args, "ask", question],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if completed.returncode != 0:
        raise StartBenchError(f"`socialbot ask` failed:\n{completed.stderr[-2000:]}")
    return time.perf_counter() - started


def run_start_benchmark(
    config_path: str | None,
    warm_runs: int = 3,
    cold: bool = True,
    question: str = "hi",
    progress: Callable[[str], None] = lambda line: None,
    compare_sequential: bool = False,
) -> StartReport:
    """Measure `cold` (once) and `warm_runs` warm starts, then one real `socialbot ask` (warm).

    With `compare_sequential`, each warm start is followed by one that loads the classifiers before the
    model (the old order), so both see the same machine load.
    """
    runs: list[StartRun] = []
    with tempfile.TemporaryDirectory(prefix="socialbot-bench-start-") as scratch:
        env = {**os.environ, "SOCIALBOT__BOT__DATABASE": str(Path(scratch) / "bench.db")}
        env.pop("TELEGRAM_BOT_TOKEN", None)
        env.pop("DISCORD_BOT_TOKEN", None)
        if cold:
            progress("cold start (empty model cache: the bundled model is converted first)…")
            cold_env = {**env, "SOCIALBOT__MODEL__CACHE_DIR": str(Path(scratch) / "empty-model-cache")}
            runs.append(_probe(config_path, cold_env, "cold", question))
        for index in range(warm_runs):
            progress(f"warm start {index + 1}/{warm_runs}…")
            runs.append(_probe(config_path, env, "warm", question))
            if compare_sequential:
                progress(f"sequential start {index + 1}/{warm_runs}…")
                runs.append(_probe(config_path, env, "sequential", question))
        progress("`socialbot ask` end to end (warm)…")
        ask_cli_s = _time_cli_ask(config_path, env, question)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return StartReport(runs=runs, ask_cli_s=ask_cli_s, load_average=load)


def format_report(report: StartReport) -> str:
    """A table for people: each part's seconds, cold and warm (median), wall and CPU."""
    cold = next((run for run in report.runs if run.kind == "cold"), None)
    warm = [run for run in report.runs if run.kind == "warm"]
    sequential = [run for run in report.runs if run.kind == "sequential"]

    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:6.2f}"

    def warm_part(name: str, cpu: bool = False, runs: list[StartRun] = warm) -> float | None:
        values = [(run.cpu if cpu else run.parts).get(name) for run in runs]
        present = [value for value in values if value is not None]
        return statistics.median(present) if present else None

    header = f"{'part (seconds)':28s} {'cold':>7s} {'warm':>7s} {'warm CPU':>9s}"
    lines = [header + (f" {'sequential':>11s}" if sequential else "")]
    for name in PART_ORDER:
        cold_value = cold.parts.get(name) if cold else None
        line = f"{name:28s} {cell(cold_value):>7s} {cell(warm_part(name)):>7s} {cell(warm_part(name, True)):>9s}"
        if sequential:
            line += f" {cell(warm_part(name, runs=sequential)):>11s}"
        lines.append(line)
    lines.append("")
    for label, value in (
        ("ready (prompt shown)", lambda run: run.ready_s),
        ("classifiers loaded", lambda run: run.classifiers_done_s),
        ("ask (ready + one reply)", lambda run: run.ask_s),
    ):
        cold_total = value(cold) if cold else None
        warm_total = statistics.median([value(run) for run in warm]) if warm else None
        line = f"{label:28s} {cell(cold_total):>7s} {cell(warm_total):>7s}"
        if sequential:
            line += f" {'':>9s} {cell(statistics.median([value(run) for run in sequential])):>11s}"
        lines.append(line)
    if report.ask_cli_s is not None:
        lines.append(f"{'`socialbot ask hi` (process)':28s} {'':>7s} {cell(report.ask_cli_s):>7s}")
    if report.load_average is not None:
        lines.append(f"\nmachine load average while measuring: {', '.join(f'{v:.1f}' for v in report.load_average)}")
    lines.append("parts overlap (the model and the classifiers load at the same time), so they do not add up.")
    return "\n".join(lines)
