"""The report benchmark: generate a big community history, then time one report over it in a fresh process
and measure the memory it added (peak RSS during the report minus RSS before it)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.insight.synthetic import SyntheticCommunity, generate
from bot.store import Store

BENCH_NOW = datetime(2026, 11, 30, tzinfo=UTC)


@dataclass(frozen=True)
class ReportBenchmark:
    """What one benchmark run measured."""

    stored_messages: int
    generate_s: float
    report_days: int
    report_messages: int
    report_s: float
    trends_s: float
    extra_memory_mb: float
    database_mb: float

    def as_json(self) -> dict[str, object]:
        return self.__dict__.copy()


def prepare(database: Path, messages: int, days: int) -> tuple[int, float]:
    """Fill `database` (if it is not already filled) with `messages` rows over `days` days before BENCH_NOW."""
    store = Store.open(database)
    try:
        existing = int(store.db.execute("select count(*) from messages").fetchone()[0])
        if existing >= messages:
            return existing, 0.0
        started = time.perf_counter()
        written = generate(store, SyntheticCommunity(messages=messages, days=days), BENCH_NOW - timedelta(days=days))
        return written, time.perf_counter() - started
    finally:
        store.close()


def measure_report(database: Path, days: int, out_dir: Path) -> dict[str, float]:
    """Run in the child process: one report (trends, charts, JSON, HTML) and its time and added memory."""
    import resource

    import psutil

    from bot.insight.report import build_report, write_report

    store = Store.open(database)
    before = psutil.Process().memory_info().rss
    started = time.perf_counter()
    report = build_report(store, days, BENCH_NOW)
    trends_s = time.perf_counter() - started
    write_report(report, out_dir)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "report_s": elapsed,
        "trends_s": trends_s,
        "extra_memory_mb": max(0, peak - before) / 2**20,
        "report_messages": report.daily.totals().messages,
    }


def run_benchmark(workdir: Path, messages: int = 1_000_000, days: int = 28, report_days: int = 28) -> ReportBenchmark:
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "insight-bench.db"
    stored, generate_s = prepare(database, messages, days)
    code = (
        "import json, sys; from pathlib import Path; from bot.benchmarks.insight import measure_report; "
        f"print(json.dumps(measure_report(Path({str(database)!r}), {report_days}, Path({str(workdir / 'report')!r}))))"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    return ReportBenchmark(
        stored,
        round(generate_s, 1),
        report_days,
        int(figures["report_messages"]),
        round(float(figures["report_s"]), 2),
        round(float(figures["trends_s"]), 2),
        round(float(figures["extra_memory_mb"]), 1),
        round(database.stat().st_size / 2**20, 1),
    )
