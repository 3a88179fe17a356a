"""`socialbot bench start`: how long the bot takes to be ready and to answer, cold and warm, part by part.

Each start runs in a fresh Python process (`bot.ops.startprobe`), so imports count like they do for a user.
Cold: the model cache is empty (the bundled model is converted first, as on a first install). Warm: the
converted model is cached (and its files are likely in the OS page cache). The database is a temporary one.
`socialbot ask` and `socialbot --help` are timed as whole processes, as a person would see them.

Platforms connected is measured on a real `socialbot run` with Telegram pointed at a loopback Bot API
(`bot.ops.bench_telegram`): from the spawn to its first getUpdates, then its reply to a message handed over
then; `socialbot ask` is timed while that bot runs (answered through its control socket) and with none running.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
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


# How the benchmark runs the command line: like the `socialbot` script does.
CLI_ENTRY = "from bot.cli.main import main; main()"
# `socialbot ask` run the same way, saying on its last stderr line which heavy parts it loaded (the command ends
# with `os._exit`, skipping the interpreter's teardown; the modules are read just before).
LOADED_PREFIX = "socialbot-bench loaded: "
PART_MODULES = (
    ("classifiers (numpy MiniLM)", "bot.moderation.classifier"),
    ("torch", "torch"),
    ("scikit-learn", "sklearn"),
    ("KB encoder (MiniLM)", "bot.embeddings"),
    ("sentence-transformers", "sentence_transformers"),
    ("model", "bot.engine.transformers_engine"),
)
ASK_ENTRY = f"""import os, sys
from bot.cli.main import main

def _report_and_exit(code, _exit=os._exit):
    parts = [name for name, module in {PART_MODULES!r} if module in sys.modules]
    sys.stderr.write({LOADED_PREFIX!r} + ", ".join(parts) + "\\n")
    sys.stderr.flush()
    _exit(code)

os._exit = _report_and_exit
main()
"""
# The `socialbot ask` cases timed with no bot running: the question given (default "hi": curated small talk),
# one the knowledge base answers (a temporary KB of one shipped document), and one only the model answers.
KB_DOCUMENT = Path(__file__).resolve().parents[1] / "evaluation" / "sets" / "kb" / "shop" / "shipping.md"
KB_QUESTION = "How much does standard delivery cost?"
MODEL_QUESTION = "Write one word about the sea."
SERVICE_TIMEOUT_S = 300.0
SERVICE_MOMENTS = ("connected_s", "first_reply_s", "ready_s", "connected_cpu_s")


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
class ServiceRun:
    """One real `socialbot run` against the loopback Bot API (`bench_telegram`): seconds from spawn to Telegram
    connected (its first getUpdates), to its reply to a message handed over then, and to ready (model and
    every feature started); the process's CPU (every thread) when it connected; and `socialbot ask` processes
    answered by it over the control socket."""

    connected_s: float
    first_reply_s: float | None
    ready_s: float | None
    connected_cpu_s: float | None
    ask_s: list[float] = field(default_factory=list)
    ask_cpu_s: list[float] = field(default_factory=list)
    reply_text: str = ""


@dataclass(frozen=True)
class AskCase:
    """`socialbot ask` timed with no bot running, for one kind of question: each process's wall and CPU seconds,
    the heavy parts it loaded, and its reply."""

    label: str
    question: str
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    loaded: list[str] = field(default_factory=list)
    reply: str = ""


@dataclass(frozen=True)
class StartReport:
    """Every run, and the figures a person reads: cold, and the median of the warm runs."""

    runs: list[StartRun] = field(default_factory=list)
    ask_cli_s: list[float] = field(default_factory=list)
    ask_cli_cpu_s: list[float] = field(default_factory=list)
    help_cli_s: float | None = None
    load_average: tuple[float, float, float] | None = None
    services: list[ServiceRun] = field(default_factory=list)
    load_average_before: tuple[float, float, float] | None = None
    ask_cases: list[AskCase] = field(default_factory=list)

    def service_median(self, name: str) -> float | None:
        values = [v for v in (getattr(run, name) for run in self.services) if v is not None]
        return statistics.median(values) if values else None

    @property
    def ask_via_bot_s(self) -> list[float]:
        return [value for run in self.services for value in run.ask_s]

    @property
    def ask_via_bot_cpu_s(self) -> list[float]:
        return [value for run in self.services for value in run.ask_cpu_s]

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
            "load_average_before": self.load_average_before,
            "services": [asdict(run) for run in self.services],
            "service_median": {
                name: self.service_median(name)
                for name in ("connected_s", "first_reply_s", "ready_s", "connected_cpu_s")
            },
            "ask_via_bot_s": self.ask_via_bot_s,
            "ask_via_bot_median_s": statistics.median(self.ask_via_bot_s) if self.ask_via_bot_s else None,
            "ask_via_bot_cpu_s": self.ask_via_bot_cpu_s,
            "ask_cases": [
                {**asdict(case), "median_s": statistics.median(case.walls) if case.walls else None}
                for case in self.ask_cases
            ],
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


def _process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a running process, every thread (Linux /proc); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _time_service(config_path: str | None, env: dict[str, str], question: str, asks: int, database: Path) -> ServiceRun:
    """Spawn `socialbot run` with Telegram pointed at the loopback Bot API; time it connecting, replying and
    getting ready, then `asks` `socialbot ask` processes it answers; stop it with SIGTERM."""
    from bot.ops.bench_telegram import TOKEN, LoopbackTelegram

    args = ["--config", config_path] if config_path else []
    with LoopbackTelegram(question) as api:
        run_env = {
            **env,
            "SOCIALBOT__BOT__DATABASE": str(database),
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "SOCIALBOT__TELEGRAM__BASE_URL": api.base_url,
            "SOCIALBOT__TELEGRAM__MODE": "polling",
            "SOCIALBOT__TELEGRAM__POLL_TIMEOUT_S": "1",
            "SOCIALBOT__METRICS__PORT": "0",  # served, as by default, on any free port
        }
        spawned = time.time()
        bot = subprocess.Popen(
            [sys.executable, "-c", CLI_ENTRY, *args, "run"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=run_env,
        )
        ready_at: list[float] = []
        errors: list[str] = []

        def read_status() -> None:
            assert bot.stderr is not None
            for line in bot.stderr:
                errors.append(line)
                if line.startswith("ready:") and not ready_at:
                    ready_at.append(time.time())

        reader = threading.Thread(target=read_status, name="bench-run-stderr", daemon=True)
        reader.start()
        try:
            while not api.wait_connected(0.2):
                if bot.poll() is not None or time.time() - spawned > SERVICE_TIMEOUT_S:
                    raise StartBenchError("`socialbot run` never connected to Telegram:\n" + "".join(errors)[-2000:])
            connected_cpu = _process_cpu_s(bot.pid)
            api.wait_replied(SERVICE_TIMEOUT_S)
            deadline = time.time() + SERVICE_TIMEOUT_S
            while not ready_at and bot.poll() is None and time.time() < deadline:
                time.sleep(0.05)
            timed = [_time_cli(config_path, {**env, "SOCIALBOT__BOT__DATABASE": str(database)}, "ask", question)]
            for _ in range(asks - 1):
                timed.append(
                    _time_cli(config_path, {**env, "SOCIALBOT__BOT__DATABASE": str(database)}, "ask", question)
                )
        finally:
            bot.send_signal(signal.SIGTERM)
            try:
                bot.wait(60)
            except subprocess.TimeoutExpired:
                bot.kill()
                bot.wait(10)
            reader.join(5)
    assert api.connected_at is not None
    return ServiceRun(
        connected_s=api.connected_at - spawned,
        first_reply_s=api.replied_at - spawned if api.replied_at is not None else None,
        ready_s=ready_at[0] - spawned if ready_at else None,
        connected_cpu_s=connected_cpu,
        ask_s=[wall for wall, _ in timed],
        ask_cpu_s=[cpu for _, cpu in timed],
        reply_text=api.reply_text,
    )


def _time_cli(config_path: str | None, env: dict[str, str], *command: str) -> tuple[float, float]:
    """Wall and CPU (user + system, every thread) seconds of one `socialbot` process."""
    wall, cpu, _ = _run_cli(config_path, env, CLI_ENTRY, *command)
    return wall, cpu


def _run_cli(
    config_path: str | None, env: dict[str, str], entry: str, *command: str
) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    args = ["--config", config_path] if config_path else []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", entry, *args, *command],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if completed.returncode != 0:
        raise StartBenchError(f"`socialbot {' '.join(command)}` failed:\n{completed.stderr[-2000:]}")
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), completed


def _time_ask_case(config_path: str | None, env: dict[str, str], label: str, question: str, runs: int) -> AskCase:
    """`runs` `socialbot ask --json QUESTION` processes with no bot running: times, parts loaded, the reply."""
    walls, cpus, loaded, reply = [], [], [], ""
    for _ in range(runs):
        wall, cpu, completed = _run_cli(config_path, env, ASK_ENTRY, "ask", "--json", question)
        walls.append(wall)
        cpus.append(cpu)
        reported = [line for line in completed.stderr.splitlines() if line.startswith(LOADED_PREFIX)]
        loaded = [part for part in reported[-1].removeprefix(LOADED_PREFIX).split(", ") if part] if reported else []
        answers = completed.stdout.strip().splitlines()
        reply = str(json.loads(answers[-1]).get("reply", "")) if answers else ""
    return AskCase(label, question, walls, cpus, loaded, reply)


def _add_knowledge(config_path: str | None, env: dict[str, str]) -> None:
    """Put the shipped KB document into the database `env` names (`socialbot kb add`; not timed)."""
    _run_cli(config_path, env, CLI_ENTRY, "kb", "add", str(KB_DOCUMENT))


def run_start_benchmark(
    config_path: str | None,
    warm_runs: int = 3,
    cold: bool = True,
    question: str = "hi",
    progress: Callable[[str], None] = lambda line: None,
) -> StartReport:
    """Measure `cold` (once) and `warm_runs` warm starts; `warm_runs` real `socialbot run` services connecting
    to Telegram (the loopback Bot API), each answering `socialbot ask` processes; then `warm_runs` `socialbot
    ask` processes with no bot running (answered in their own process)."""
    runs: list[StartRun] = []
    services: list[ServiceRun] = []
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    with tempfile.TemporaryDirectory(prefix="socialbot-bench-start-") as scratch:
        env = {**os.environ, "SOCIALBOT__BOT__DATABASE": str(Path(scratch) / "bench.db")}
        # Python writes and reuses its bytecode as it does on a user's machine (a first run writes it); with
        # PYTHONDONTWRITEBYTECODE every start would compile the sources again (about 0.5 s).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("TELEGRAM_BOT_TOKEN", None)
        env.pop("DISCORD_BOT_TOKEN", None)
        if cold:
            progress("cold start (empty model cache: the bundled model is converted first)…")
            cold_env = {**env, "SOCIALBOT__MODEL__CACHE_DIR": str(Path(scratch) / "empty-model-cache")}
            runs.append(_probe(config_path, cold_env, "cold", question))
        for index in range(warm_runs):
            progress(f"warm start {index + 1}/{warm_runs}…")
            runs.append(_probe(config_path, env, "warm", question))
        for index in range(warm_runs):
            progress(f"`socialbot run` on Telegram (loopback), `socialbot ask` through it {index + 1}/{warm_runs}…")
            database = Path(scratch) / f"service-{index}.db"
            services.append(_time_service(config_path, env, question, max(1, warm_runs), database))
        runs_each = max(1, warm_runs)
        progress(f"`socialbot ask {question}` with no bot running (warm), {runs_each} runs…")
        cases = [_time_ask_case(config_path, env, "given question", question, runs_each)]
        kb_env = {**env, "SOCIALBOT__BOT__DATABASE": str(Path(scratch) / "ask-kb.db")}
        _add_knowledge(config_path, kb_env)
        progress(f"`socialbot ask` a question the knowledge base answers, {runs_each} runs…")
        cases.append(_time_ask_case(config_path, kb_env, "KB question", KB_QUESTION, runs_each))
        progress(f"`socialbot ask` a question only the model answers, {runs_each} runs…")
        cases.append(_time_ask_case(config_path, env, "model question", MODEL_QUESTION, runs_each))
        help_s, _ = _time_cli(config_path, env, "--help")
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return StartReport(
        runs=runs,
        ask_cli_s=cases[0].walls,
        ask_cli_cpu_s=cases[0].cpus,
        help_cli_s=help_s,
        load_average=load,
        services=services,
        load_average_before=load_before,
        ask_cases=cases,
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
    if report.services:
        lines.append("")
        lines.append(f"`socialbot run` on Telegram (loopback Bot API), {len(report.services)} runs, median:")

        def runs_of(name: str) -> str:
            values = [getattr(run, name) for run in report.services]
            return ", ".join("-" if value is None else f"{value:.2f}" for value in values)

        for label, name in (
            ("platforms connected (getUpdates)", "connected_s"),
            ("CPU when connected (all threads)", "connected_cpu_s"),
            ("first Telegram reply", "first_reply_s"),
            ("ready (everything started)", "ready_s"),
        ):
            lines.append(f"{label:32s} {'':>7s} {cell(report.service_median(name)):>7s}   (runs: {runs_of(name)})")
    for label, walls, cpus in (
        ("`socialbot ask`, bot running", report.ask_via_bot_s, report.ask_via_bot_cpu_s),
        ("`socialbot ask`, no bot running", report.ask_cli_s, report.ask_cli_cpu_s),
    ):
        if walls:
            runs = ", ".join(f"{value:.2f}" for value in walls)
            lines.append(f"{label:32s} {'':>7s} {cell(statistics.median(walls)):>7s}   (runs: {runs})")
        if cpus:
            lines.append(f"{'  CPU of that process':32s} {'':>7s} {cell(statistics.median(cpus)):>7s}")
    if report.ask_cases:
        lines.append("")
        lines.append("`socialbot ask --json`, no bot running, by question (median; CPU of the process; parts loaded):")
        for case in report.ask_cases:
            runs = ", ".join(f"{value:.2f}" for value in case.walls)
            cpu = statistics.median(case.cpus) if case.cpus else None
            lines.append(
                f"{case.label + ' ' + repr(case.question[:28]):48s} {cell(statistics.median(case.walls)):>7s}"
                f"   CPU {cell(cpu).strip()}   (runs: {runs})"
            )
            lines.append(f"{'':4s}loaded: {', '.join(case.loaded) or 'none of the heavy parts'}")
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
    for when, load in (("before", report.load_average_before), ("after", report.load_average)):
        if load is not None:
            lines.append(f"machine load average (1, 5, 15 min) {when} measuring: {', '.join(f'{v:.1f}' for v in load)}")
    lines.append("model and classifiers load in parallel after the build, while the start goes on: parts overlap.")
    return "\n".join(lines)
