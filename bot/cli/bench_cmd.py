"""`socialbot bench`: the engine benchmark (naive generate vs. the batching engine), side by side."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from bot.cli.main import CliContext, configure_logging, fail, print_json, status


@click.group("bench", invoke_without_command=True)
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
@click.option(
    "--against",
    "against_url",
    default=None,
    metavar="URL",
    help="Compare with an OpenAI-compatible server (llama-server, vLLM, Ollama), e.g. http://127.0.0.1:8080/v1.",
)
@click.option("--server-model", default="default", show_default=True, help="Model name sent to the --against server.")
@click.option("--server-pid", type=int, default=None, help="The --against server's pid, to report its peak memory.")
@click.option(
    "--compare-int8", is_flag=True, help="Instead: batch-1 decode and greedy replies, float32 against int8 weights."
)
@click.pass_context
def bench(
    click_ctx: click.Context,
    json_path: Path | None,
    quick: bool,
    seed: int,
    threads: int | None,
    int8: bool | None,
    against_url: str | None,
    server_model: str,
    server_pid: int | None,
    compare_int8: bool,
) -> None:
    """Measure throughput, latency, KV reuse and memory with the configured model (both sides identical).

    With --against URL the other side is that server instead of naive generation, on the same workload;
    `bench start` measures start-up instead.
    """
    if click_ctx.invoked_subcommand is not None:
        return
    ctx: CliContext = click_ctx.obj
    from bot.app import engine_settings
    from bot.benchmarks.engine import run_benchmark

    config = ctx.config()
    configure_logging("WARNING")
    settings = engine_settings(config)
    if threads is not None:
        settings = replace(settings, threads=threads)
    if int8 is not None:
        settings = replace(settings, quantize_int8=int8)
    # A benchmark on a busy machine is slow, not wrong: its requests wait as long as they need.
    settings = replace(settings, request_timeout_s=max(settings.request_timeout_s, 900.0))
    if compare_int8:
        from bot.benchmarks.int8 import compare_int8 as run_compare

        run_compare(settings, repeats=2 if quick else 3, json_path=json_path, progress=status)
        return
    if against_url is not None:
        from bot.benchmarks.against import FULL, QUICK, run_against

        run_against(
            against_url,
            settings,
            shape=QUICK if quick else FULL,
            seed=seed,
            server_model=server_model,
            server_pid=server_pid,
            json_path=json_path,
            progress=status,
        )
        return
    run_benchmark(settings, seed=seed, json_path=json_path, quick=quick, progress=status)


@bench.command("start")
@click.option("--json", "as_json", is_flag=True, help="Print every run and the medians as JSON.")
@click.option("--runs", default=3, show_default=True, help="Warm starts (and `ask` calls) to measure; medians shown.")
@click.option("--no-cold", is_flag=True, help="Skip the cold start (it converts the model again, ~20 s).")
@click.option("--question", default="hi", show_default=True, help="The message typed at the prompt and asked.")
@click.pass_obj
def bench_start(ctx: CliContext, as_json: bool, runs: int, no_cold: bool, question: str) -> None:
    """Seconds to ready, engine ready and a first reply, cold and warm, with each part (imports, model, ...)."""
    from bot.ops.startbench import StartBenchError, format_report, run_start_benchmark

    try:
        report = run_start_benchmark(
            ctx.config_path, warm_runs=runs, cold=not no_cold, question=question, progress=status
        )
    except StartBenchError as exc:
        fail(str(exc))
    if as_json:
        print_json(report.as_dict())
    else:
        click.echo(format_report(report))


COMMANDS = [bench]
