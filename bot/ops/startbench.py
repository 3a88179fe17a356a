"""`socialbot bench start`: how long the bot takes to be ready and to answer, cold and warm, part by part.

Each start runs in a fresh Python process (`bot.ops.startprobe`), so imports count like they do for a user.
Cold: the model cache is empty (the bundled model is converted first, as on a first install). Warm: the
converted model is cached (and its files are likely in the OS page cache). The database is a temporary one.
`socialbot ask` and `socialbot --help` are timed as whole processes, as a person would see them.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

# Parts in the order a start goes through them; model and classifiers load in parallel on their own threads
# once the build is over, while the console connects and the start goes on.
PART_ORDER = (
    "interpreter",
    "imports.cli",
    "config",
    "build (store, features)",
    "console adapter",
    "model",
    "classifiers",
    "engine+features start",
    "first reply (after start)",
)

# Moments since the process was spawned: what a person waits for.
MOMENTS = (
    ("ready: console prompt shown", "ready_s"),
    ("ready: platforms may connect", "built_s"),
    ("model loaded", "model_loaded_s"),
    ("classifiers loaded", "classifiers_done_s"),
    ("engine ready (all started)", "engine_ready_s"),
    ("first reply (typed at ready)", "first_reply_s"),
)


class StartBenchError(Exception):
    """A measured start failed; carries the child's error output."""


@dataclass(frozen=True)
class StartRun:
    """One measured start: seconds from spawn to each moment, and each part's wall (and CPU) seconds."""

    kind: str  # "cold" or "warm"
    ready_s: float
    built_s: float
    model_loaded_s: float | None
    classifiers_done_s: float | None
    engine_ready_s: float | None
    first_reply_s: float
    parts: dict[str, float]
    cpu: dict[str, float]
    model_source: str | None
    model_class: str | None
    process_cpu_s: float | None = None  # CPU of every thread of the process, spawn to first reply
    reply_text: str = ""


@dataclass(frozen=True)
class StartReport:
    """Every run, and the figures a person reads: cold, and the median of the warm runs."""

    runs: list[StartRun] = field(default_factory=list)
    ask_cli_s: list[float] = field(default_factory=list)
    ask_cli_cpu_s: list[float] = field(default_factory=list)
    help_cli_s: float | None = None
    load_average: tuple[float, float, float] | None = None

    def median(self, kind: str, moment: str) -> float | None:
        """The median over runs of `kind` of one moment (a `StartRun` field such as "ready_s")."""
        values = [v for v in (getattr(run, moment) for run in self.runs if run.kind == kind) if v is not None]
        return statistics.median(values) if values else None

    def as_dict(self) -> dict[str, object]:
        return {
            "runs": [asdict(run) for run in self.runs],
            "warm_median": {key: self.median("warm", key) for _, key in MOMENTS},
            "ask_cli_s": self.ask_cli_s,
            "ask_cli_median_s": statistics.median(self.ask_cli_s) if self.ask_cli_s else None,
            "ask_cli_cpu_s": self.ask_cli_cpu_s,
            "help_cli_s": self.help_cli_s,
            "load_average": self.load_average,
        }


def _probe(config_path: str | None, env: dict[str, str], kind: str, question: str) -> StartRun:
    command = [sys.executable, "-m", "bot.ops.startprobe", "--question", question, "--spawned-at"]
    args = ["--config", config_path] if config_path else []
    completed = subprocess.run(
        [*command, repr(time.time()), *args], capture_output=True, text=True, env=env, check=False
    )
    if completed.returncode != 0:
        raise StartBenchError(f"{kind} start failed:\n{completed.stderr[-2000:]}")
    data = json.loads(completed.stdout.strip().splitlines()[-1])
    return StartRun(
        kind=kind,
        ready_s=data["ready_s"],
        built_s=data["built_s"],
        model_loaded_s=data["model_loaded_s"],
        classifiers_done_s=data["classifiers_done_s"],
        engine_ready_s=data["engine_ready_s"],
        first_reply_s=data["first_reply_s"],
        parts=data["parts"],
        cpu=data["cpu"],
        model_source=data["model_source"],
        model_class=data["model_class"],
        process_cpu_s=data.get("process_cpu_s"),
        reply_text=data.get("reply_text", ""),
    )


def _time_cli(config_path: str | None, env: dict[str, str], *command: str) -> tuple[float, float]:
    """Wall and CPU (user + system, every thread) seconds of one `socialbot` process."""
    args = ["--config", config_path] if config_path else []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", "from bot.cli.main import main; main()", *args, *command],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if completed.returncode != 0:
        raise StartBenchError(f"`socialbot {' '.join(command)}` failed:\n{completed.stderr[-2000:]}")
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_start_benchmark(
    config_path: str | None,
    warm_runs: int = 3,
    cold: bool = True,
    question: str = "hi",
    progress: Callable[[str], None] = lambda line: None,
) -> StartReport:
    """Measure `cold` (once) and `warm_runs` warm starts, then `warm_runs` real `socialbot ask` processes."""
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
        asks = []
        for index in range(warm_runs):
            progress(f"`socialbot ask {question}` end to end (warm) {index + 1}/{warm_runs}…")
            asks.append(_time_cli(config_path, env, "ask", question))
        help_s, _ = _time_cli(config_path, env, "--help")
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return StartReport(
        runs=runs,
        ask_cli_s=[wall for wall, _ in asks],
        ask_cli_cpu_s=[cpu for _, cpu in asks],
        help_cli_s=help_s,
        load_average=load,
    )


def format_report(report: StartReport) -> str:
    """A table for people: each part's seconds, cold and warm (median), wall and CPU; then the moments."""
    cold = next((run for run in report.runs if run.kind == "cold"), None)
    warm = [run for run in report.runs if run.kind == "warm"]

    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:6.2f}"

    def warm_part(name: str, cpu: bool = False) -> float | None:
        present = [v for v in ((run.cpu if cpu else run.parts).get(name) for run in warm) if v is not None]
        return statistics.median(present) if present else None

    lines = [f"{'part (seconds)':32s} {'cold':>7s} {'warm':>7s} {'warm CPU':>9s}"]
    for name in PART_ORDER:
        cold_value = cold.parts.get(name) if cold else None
        lines.append(f"{name:32s} {cell(cold_value):>7s} {cell(warm_part(name)):>7s} {cell(warm_part(name, True)):>9s}")
    lines.append("")
    lines.append(f"{'seconds from the process start':32s} {'cold':>7s} {'warm':>7s}")
    for label, key in MOMENTS:
        cold_value = getattr(cold, key) if cold else None
        lines.append(f"{label:32s} {cell(cold_value):>7s} {cell(report.median('warm', key)):>7s}")
    cold_cpu = cold.process_cpu_s if cold else None
    warm_cpu = [run.process_cpu_s for run in warm if run.process_cpu_s is not None]
    lines.append(
        f"{'CPU to first reply (all threads)':32s} {cell(cold_cpu):>7s} "
        f"{cell(statistics.median(warm_cpu) if warm_cpu else None):>7s}"
    )
    if report.ask_cli_s:
        asks = ", ".join(f"{value:.2f}" for value in report.ask_cli_s)
        lines.append(
            f"{'`socialbot ask` (process)':32s} {'':>7s} {cell(statistics.median(report.ask_cli_s)):>7s}"
            f"   (runs: {asks})"
        )
    if report.ask_cli_cpu_s:
        lines.append(
            f"{'`socialbot ask` CPU (process)':32s} {'':>7s} {cell(statistics.median(report.ask_cli_cpu_s)):>7s}"
        )
    if report.help_cli_s is not None:
        lines.append(f"{'`socialbot --help` (process)':32s} {'':>7s} {cell(report.help_cli_s):>7s}")
    replies = sorted({run.reply_text for run in report.runs if run.reply_text})
    if replies:
        lines.append(
            f"\nthe first reply: {replies[0][:100]!r}"
            + (f" (and {len(replies) - 1} others)" if len(replies) > 1 else "")
        )
    model_classes = sorted({run.model_class for run in report.runs if run.model_class})
    lines.append(f"model loaded as: {', '.join(model_classes) or '-'} ({len(warm)} warm runs, median)")
    if report.load_average is not None:
        lines.append(f"machine load average while measuring: {', '.join(f'{v:.1f}' for v in report.load_average)}")
    lines.append("model and classifiers load in parallel after the build, while the start goes on: parts overlap.")
    return "\n".join(lines)
