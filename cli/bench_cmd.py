"""`socialbot bench`: the engine benchmark (naive generate vs. the batching engine), side by side."""

from __future__ import annotations

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
@click.option("--seed", default=1234, show_default=True)
@click.pass_obj
def bench(ctx: CliContext, json_path: Path | None, quick: bool, seed: int) -> None:
    """Measure throughput, latency, KV reuse and memory with the configured model."""
    from bot.app import engine_settings
    from bot.bench import run_benchmark

    config = ctx.config()
    configure_logging("WARNING")
    run_benchmark(engine_settings(config), seed=seed, json_path=json_path, quick=quick, progress=status)


COMMANDS = [bench]
