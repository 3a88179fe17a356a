"""`socialbot bench`: the engine benchmark (naive generate vs. the batching engine), side by side."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from cli.main import CliContext, configure_logging, status


@click.command("bench")
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the figures as JSON to this file.",
)
@click.option("--quick", is_flag=True, help="Fewer requests: a smoke run, not for reporting.")
@click.option("--seed", default=20261123, show_default=True)
@click.option("--threads", type=int, default=None, help="Override [model] threads (1 is steadiest on 2 cores).")
@click.option("--int8/--no-int8", default=None, help="Override [model] quantize_int8.")
@click.pass_obj
def bench(
    ctx: CliContext, json_path: Path | None, quick: bool, seed: int, threads: int | None, int8: bool | None
) -> None:
    """Measure throughput, latency, KV reuse and memory with the configured model (both sides identical)."""
    from bot.app import engine_settings
    from bot.bench import run_benchmark

    config = ctx.config()
    configure_logging("WARNING")
    settings = engine_settings(config)
    if threads is not None:
        settings = replace(settings, threads=threads)
    if int8 is not None:
        settings = replace(settings, quantize_int8=int8)
    run_benchmark(settings, seed=seed, json_path=json_path, quick=quick, progress=status)


COMMANDS = [bench]
