"""`socialbot memory eval`: the multi-turn memory figure (follow-ups 1-20 turns and a restart later)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import click

from bot.cli.main import CliContext, configure_logging, print_json, status
from bot.rules.settings import RulesSection


@click.group("memory")
def memory_group() -> None:
    """Long-term memory of members: evaluate it."""


@memory_group.command("eval")
@click.option(
    "--per-pair",
    default=2,
    show_default=True,
    type=click.IntRange(1, 20),
    help="Conversations per (fact kind, language) pair; 4 kinds x 6 languages.",
)
@click.option(
    "--max-new-tokens",
    default=16,
    show_default=True,
    type=click.IntRange(1, 512),
    help="Length limit of the model's replies to the filler turns.",
)
@click.option("--seed", default=19, show_default=True, help="Which values, phrasings and filler turns are drawn.")
@click.option("--show-cases", is_flag=True, help="Print every conversation's question and reply.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@click.pass_obj
def eval_command(
    ctx: CliContext, per_pair: int, max_new_tokens: int, seed: int, show_cases: bool, as_json: bool
) -> None:
    """Follow-up accuracy with the configured model, on a scratch database (your own data is not touched)."""
    from bot.evaluation.memory import build_cases, run_memory_eval

    configure_logging("WARNING")
    config = ctx.config()
    with tempfile.TemporaryDirectory() as scratch:
        settings = config.settings.model_copy(
            update={
                "bot": config.settings.bot.model_copy(update={"database": str(Path(scratch) / "memory-eval.db")}),
                "generation": config.settings.generation.model_copy(update={"max_new_tokens": max_new_tokens}),
            }
        )
        # The harness types far faster than a person: rate limits would answer its turns instead.
        unlimited = config.section(RulesSection).model_copy(update={"user_capacity": 0, "chat_capacity": 0})
        scratch_config = config.model_copy(update={"settings": settings}).with_section(unlimited)
        cases = build_cases(seed=seed, per_pair=per_pair)
        status(f"{len(cases)} conversations, {sum(case.gap for case in cases)} filler turns through the model…")
        result = asyncio.run(run_memory_eval(scratch_config, cases, progress=status, seed=seed))
    report = result.report()
    if as_json:
        print_json({**report, "cases_detail": result.cases} if show_cases else report)
        return
    click.echo(f"memory follow-ups answered right: {report['accuracy']:.3f} of {report['cases']} ({report['set']})")
    for key in ("by_kind", "by_gap", "by_restart", "by_language"):
        groups = report[key]
        assert isinstance(groups, dict)
        click.echo(f"  {key[3:]}: " + ", ".join(f"{name} {value:.2f}" for name, value in groups.items()))
    click.echo(
        f"  privacy: {report['privacy_leaks']} leaks in {report['privacy_checks']} checks (other member, other chat)"
    )
    if show_cases:
        for case in result.cases:
            mark = "ok " if case["right"] else "MISS"
            click.echo(
                f"{mark} [{case['kind']}/{case['language']}/{case['gap']}] {case['question']} -> {case['reply']}"
            )


COMMANDS = [memory_group]
