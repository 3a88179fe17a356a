"""`socialbot moderate`: run texts through the moderation gate so operators can test their rules."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

import click

from bot.cli.batching import batches
from bot.cli.main import CliContext, print_json, status
from bot.config import LoadedConfig
from bot.moderation.factory import build_gate
from bot.moderation.gate import ModerationDecision, ModerationGate, Strictness
from bot.sanitize import clean_text

if TYPE_CHECKING:
    from bot.moderation.reply_probe import ReplyFeatureSource


def judge(
    gate: ModerationGate,
    texts: list[str],
    direction: str,
    strictness: Strictness,
    request: str | None = None,
    generated: bool = False,
) -> list[ModerationDecision]:
    """One gate call (so one pass of each model) for a whole batch; ``request`` prompted every reply;
    ``generated`` judges them as the model's own replies (the harm check's language-model stage, with --deep)."""
    if direction == "output":
        requests = None if request is None else [request] * len(texts)
        return gate.check_outputs(texts, strictness, requests=requests, generated=[generated] * len(texts))
    return gate.check_inputs(texts, strictness)


def engine_features(config: LoadedConfig) -> ReplyFeatureSource:
    """The configured model's hidden states, loaded like the in-process engine loads it (for --deep)."""
    from bot.app import engine_settings
    from bot.engine.hidden_states import EngineReplyFeatures, HiddenStatesUnavailable
    from bot.engine.loader import load_model

    loaded = load_model(engine_settings(config), progress=status, direct=True)
    try:
        return EngineReplyFeatures(loaded.model, loaded.tokenizer, loaded.name)
    except HiddenStatesUnavailable as error:
        raise click.UsageError(f"--deep needs the bundled (direct Llama) model: {error}") from error


@click.command("moderate")
@click.argument("texts", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input line, in input order.")
@click.option(
    "--input",
    "direction",
    type=click.Choice(["output", "input"]),
    default="output",
    show_default=True,
    help="Gate texts as bot replies (block/redact, harm check) or flag them as user messages (no harm check).",
)
@click.option(
    "--request",
    default=None,
    help="The user message that prompted the replies: the harm check then judges each (request, reply) pair.",
)
@click.option(
    "--deep",
    is_flag=True,
    help="Judge replies as the model's own, with its hidden states (loads the model; needs --request).",
)
@click.option("--strictness", type=click.Choice(["relaxed", "normal", "strict"]), default="normal", show_default=True)
@click.option("--batch-size", type=click.IntRange(1, 1024), default=64, show_default=True, help="Lines per model pass.")
@click.option("--bench", is_flag=True, help="Measure the gate's throughput and single-message latency instead.")
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=None,
    help="Threads for batches, in bulk runs and --bench (torch's and the int8 MiniLM's; default: the CPUs, at most"
    " 4); at 1 the CPU-time figures are exact.",
)
@click.pass_obj
def moderate(
    ctx: CliContext,
    texts: tuple[str, ...],
    as_json: bool,
    direction: str,
    request: str | None,
    deep: bool,
    strictness: Strictness,
    batch_size: int,
    bench: bool,
    threads: int | None,
) -> None:
    """Moderate TEXTS, or one text per line from stdin when none are given (read and judged in batches)."""
    config = ctx.config()
    if deep and (request is None or direction != "output" or bench):
        raise click.UsageError("--deep judges replies to a --request (not with --input input or --bench)")
    features = engine_features(config) if deep else None
    status("loading moderation classifiers…")
    gate = build_gate(config, reply_features=features)
    if deep and gate.deep_harm is None:
        raise click.UsageError("--deep: the harm check's language-model stage is off or its weights are missing")
    from bot.minilm_int8 import set_kernel_threads

    set_kernel_threads(threads or min(4, os.cpu_count() or 1))
    if bench:
        from bot.benchmarks.moderation import format_benchmark, run_benchmark

        status("benchmarking the gate…")
        import torch

        previous_threads = torch.get_num_threads()
        torch.set_num_threads(threads or previous_threads)
        try:
            result = run_benchmark(gate, batch_size=batch_size)
        finally:
            torch.set_num_threads(previous_threads)
        if as_json:
            print_json(result.as_dict())
        else:
            click.echo(format_benchmark(result))
        return
    interactive = not texts and sys.stdin.isatty()
    lines: Iterable[str] = texts if texts else (line.rstrip("\n") for line in sys.stdin)
    limit = config.settings.bot.max_input_chars
    gate.set_bulk(not interactive and not texts)
    for chunk in batches(lines, 1 if interactive else batch_size):
        cleaned = [clean_text(raw, limit)[0] for raw in chunk]
        for decision in judge(gate, cleaned, direction, strictness, request, generated=deep):
            if as_json:
                print_json(
                    {
                        "decision": decision.action,
                        "reasons": list(decision.reasons),
                        "scores": decision.scores,
                        "language": decision.language,
                        "judged_by": list(decision.judged_by),
                        "text": decision.text,
                    }
                )
            else:
                why = f" ({', '.join(decision.reasons)})" if decision.reasons else ""
                scores = " ".join(f"{name}={value:.2f}" for name, value in decision.scores.items())
                click.echo(f"{decision.action}{why} {scores}\t{decision.text}")


COMMANDS = [moderate]
