"""`socialbot sentiment` and `socialbot insights ...`: community insight from the command line."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import numpy as np
from numpy.typing import NDArray

from bot.cli.batching import batches
from bot.cli.kb_cmd import kb_group
from bot.cli.main import CliContext, fail, print_json, status
from bot.insight import InsightError
from bot.insight.settings import InsightSection
from bot.store import Store, StoreError

# Lines of a pipe per model pass in `socialbot sentiment`.
SENTIMENT_BATCH = 64


@click.command("sentiment")
@click.argument("texts", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input: label, scores, language.")
@click.pass_obj
def sentiment(ctx: CliContext, texts: tuple[str, ...], as_json: bool) -> None:
    """Sentiment (negative / neutral / positive) of TEXTS, or of each stdin line when none are given."""
    from bot.insight.sentiment import SentimentModel

    status("loading the sentiment model…")
    try:
        model = SentimentModel.load()
    except InsightError as exc:
        fail(f"sentiment model error: {exc}")
    # A pipe is read in chunks, one model pass each (the batched cost per message); a terminal line by line.
    interactive = not texts and sys.stdin.isatty()
    lines = texts if texts else (line.rstrip("\n") for line in sys.stdin)
    for chunk in batches(lines, 1 if interactive else SENTIMENT_BATCH):
        for text, result in zip(chunk, model.score_batch(chunk), strict=True):
            if as_json:
                print_json(result.as_json())
            else:
                scores = " ".join(f"{name}={value:.2f}" for name, value in result.scores.items())
                click.echo(f"{result.label}\t{result.language}\t{scores}\t{text}")


def _open_store(ctx: CliContext) -> Store:
    config = ctx.config()
    try:
        return Store.open(config.database_path)
    except StoreError as exc:
        fail(f"database error: {exc}")


def _embed(texts: Sequence[str]) -> NDArray[np.float32]:
    from bot.embeddings import shared_encoder

    return shared_encoder().encode(list(texts))


def _embed_multilingual(texts: Sequence[str]) -> NDArray[np.float32]:
    """Topics group what people say in any of USE's 16 languages: the same question in French and Spanish is one."""
    from bot.multilingual_encoder import shared_multilingual_encoder

    return shared_multilingual_encoder().encode(list(texts))


@click.group("insights")
def insights() -> None:
    """Community insight reports: trends, topics and knowledge gaps (aggregates only)."""


@insights.command("report")
@click.option("--days", type=click.IntRange(1, 365), default=7, show_default=True, help="Period covered.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder.")
@click.option("--topics/--no-topics", default=True, show_default=True, help="Cluster messages into topics.")
@click.option("--json", "as_json", is_flag=True, help="Print the report's figures as JSON too.")
@click.pass_obj
def report(ctx: CliContext, days: int, out_dir: Path, topics: bool, as_json: bool) -> None:
    """Write an HTML report with charts (PNG) and the same figures as JSON into OUT."""
    from bot.insight.gaps import find_gaps
    from bot.insight.report import build_report, write_report
    from bot.insight.topics import find_topics

    store = _open_store(ctx)
    settings = ctx.config().section(InsightSection)
    now = datetime.now(UTC)
    status(f"computing trends for the last {days} day(s)…")
    built = build_report(store, days, now, settings.toxic_threshold)
    if topics:
        status("clustering topics and knowledge gaps…")
        since = now - timedelta(days=days)
        built.sections["topics"] = [topic.as_json() for topic in find_topics(store, _embed_multilingual, since, now)]
        built.sections["gaps"] = [gap.as_json() for gap in find_gaps(store, _embed, since, now)]
    files = write_report(built, out_dir)
    if as_json:
        print_json(built.as_json())
    else:
        total = built.daily.totals()
        click.echo(f"{total.messages} member messages; report written to {files.html} ({len(files.charts)} charts)")


@insights.command("show")
@click.argument("alert_id", type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="The alert as one JSON object.")
@click.pass_obj
def show(ctx: CliContext, alert_id: int, as_json: bool) -> None:
    """The alert ALERT_ID (named in each alert the staff chat gets): its figures and example messages."""
    from bot.insight.repository import InsightRepository

    found = InsightRepository(_open_store(ctx)).alert(alert_id)
    if found is None:
        fail(f"no insight alert {alert_id} in this database")
    if as_json:
        print_json(found.as_json())
        return
    click.echo(f"alert {found.alert_id} ({found.kind}) in {found.chat or 'an unknown chat'} at {found.fired_at}")
    click.echo(f"  {found.summary}")
    for example in found.examples:
        text = example.text if example.text is not None else "(deleted)"
        click.echo(f"  #{example.message_id} {example.created_at or ''}: {text}")


@insights.command("bench")
@click.option("--messages", type=click.IntRange(1000), default=1_000_000, show_default=True)
@click.option("--days", type=click.IntRange(1, 365), default=28, show_default=True, help="Span of the history.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("insight-bench"))
@click.option("--json", "as_json", is_flag=True)
def bench(messages: int, days: int, workdir: Path, as_json: bool) -> None:
    """Time one report over a generated history of MESSAGES stored messages, and the memory it adds."""
    from bot.benchmarks.insight import run_benchmark

    status(f"generating {messages} messages in {workdir} (kept for the next run)…")
    result = run_benchmark(workdir, messages, days, days)
    if as_json:
        print_json(result.as_json())
        return
    click.echo(
        f"{result.stored_messages} stored messages ({result.database_mb} MB, generated in {result.generate_s} s); "
        f"report over {result.report_days} days ({result.report_messages} member messages): "
        f"{result.report_s} s ({result.trends_s} s of SQL aggregates), +{result.extra_memory_mb} MB peak memory"
    )


@insights.command("sentiment-speed")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None, help="UMSAB folder.")
@click.option("--messages", type=click.IntRange(1), default=1024, show_default=True, help="UMSAB val tweets timed.")
@click.option("--threads", type=click.IntRange(1, 64), default=1, show_default=True, help="torch threads.")
@click.option("--by-language", is_flag=True, help="Also batched CPU-ms per message of each language's tweets alone.")
@click.option("--json", "as_json", is_flag=True)
def sentiment_speed(data: Path | None, messages: int, threads: int, by_language: bool, as_json: bool) -> None:
    """Milliseconds per message of the sentiment model (CPU and wall clock), one at a time and batched."""
    import torch

    from bot.benchmarks.sentiment import measure_cpu_ms_by_language, measure_sentiment_speed
    from bot.evaluation.sentiment import SentimentDataError, default_umsab_dir, read_split
    from bot.insight.sentiment import SentimentModel

    torch.set_num_threads(threads)
    try:
        val = read_split(data or default_umsab_dir(), "val")
        texts = list(val.texts)
        model = SentimentModel.load()
    except (SentimentDataError, InsightError) as exc:
        fail(f"sentiment speed: {exc}")
    # Every language in turn, as a community's stream mixes them.
    texts = [texts[(index * 7919) % len(texts)] for index in range(min(messages, len(texts)))]
    status(f"timing the sentiment model on {len(texts)} UMSAB val tweets…")
    result = measure_sentiment_speed(model, texts)
    per_language: dict[str, float] = {}
    single_per_language: dict[str, float] = {}
    if by_language:
        status("timing each language's tweets alone…")
        per_language = measure_cpu_ms_by_language(model, val.texts, val.languages)
        single_per_language = measure_cpu_ms_by_language(model, val.texts, val.languages, one_at_a_time=True)
    if as_json:
        extra = {"batched_cpu_ms_by_language": per_language, "single_cpu_ms_by_language": single_per_language}
        print_json(result.as_json() | (extra if by_language else {}))
        return
    load = " ".join(f"{value:.2f}" for value in result.load_average)
    click.echo(
        f"{result.messages} messages, {result.torch_threads} torch thread(s), load average {load}: "
        f"batched ({result.encoder_share:.0%} through MiniLM, {result.multilingual_share:.0%} through USE) "
        f"{result.batched_cpu_ms} CPU-ms/msg, "
        f"{result.batched_wall_ms} wall-ms/msg; one at a time {result.single_cpu_ms} CPU-ms/msg, "
        f"{result.single_wall_ms} wall-ms/msg"
    )
    if per_language:
        click.echo("batched CPU-ms/msg by language: " + ", ".join(f"{k} {v}" for k, v in per_language.items()))
        click.echo(
            "one at a time CPU-ms/msg by language: " + ", ".join(f"{k} {v}" for k, v in single_per_language.items())
        )


@click.command("gaps")
@click.option("--days", type=click.IntRange(1, 365), default=30, show_default=True, help="Period covered.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per gap.")
@click.pass_obj
def gaps(ctx: CliContext, days: int, as_json: bool) -> None:
    """Questions the bot declined or handed to a person, grouped: the KB entries to write next."""
    from bot.insight.gaps import find_gaps

    store = _open_store(ctx)
    now = datetime.now(UTC)
    status("grouping unanswered questions…")
    found = find_gaps(store, _embed, now - timedelta(days=days), now)
    if not found and not as_json:
        click.echo(f"No declined or handed-off questions asked twice in the last {days} day(s).")
    for gap in found:
        if as_json:
            print_json(gap.as_json())
        else:
            click.echo(f"{gap.count}x  {gap.label}  [{gap.terms}]")
            for example in gap.examples[1:]:
                click.echo(f"      also: {example}")


kb_group.add_command(gaps)

COMMANDS = [sentiment, insights]
