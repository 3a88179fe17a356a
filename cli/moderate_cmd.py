"""`socialbot moderate`: run texts through the moderation gate so operators can test their rules."""

from __future__ import annotations

import sys

import click

from bot.moderation.factory import build_gate
from bot.sanitize import clean_text
from cli.main import CliContext, print_json, status


@click.command("moderate")
@click.argument("texts", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input line, in input order.")
@click.option(
    "--input",
    "direction",
    type=click.Choice(["output", "input"]),
    default="output",
    show_default=True,
    help="Gate texts as bot replies (block/redact) or flag them as user messages.",
)
@click.option("--strictness", type=click.Choice(["relaxed", "normal", "strict"]), default="normal", show_default=True)
@click.pass_obj
def moderate(ctx: CliContext, texts: tuple[str, ...], as_json: bool, direction: str, strictness: str) -> None:
    """Moderate TEXTS, or one text per line from stdin when none are given."""
    config = ctx.config()
    status("loading moderation classifiers…")
    gate = build_gate(config)
    lines = texts if texts else (line.rstrip("\n") for line in sys.stdin)
    for raw in lines:
        text, _ = clean_text(raw, config.settings.bot.max_input_chars)
        if direction == "output":
            decision = gate.check_output(text, strictness)  # type: ignore[arg-type]
        else:
            decision = gate.check_input(text, strictness)  # type: ignore[arg-type]
            decision = type(decision)("block" if decision.flagged else "allow", text, decision.reasons, decision.scores)
        if as_json:
            print_json(
                {
                    "decision": decision.action,
                    "reasons": list(decision.reasons),
                    "scores": decision.scores,
                    "text": decision.text,
                }
            )
        else:
            why = f" ({', '.join(decision.reasons)})" if decision.reasons else ""
            scores = " ".join(f"{name}={value:.2f}" for name, value in decision.scores.items())
            click.echo(f"{decision.action}{why} {scores}\t{decision.text}")


COMMANDS = [moderate]
