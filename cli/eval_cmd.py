"""`socialbot eval moderation|kb`: the evaluation figures the issues ask for, for people or as JSON."""

from __future__ import annotations

import click


@click.group("eval")
def eval_group() -> None:
    """Evaluate the moderation classifiers or the knowledge base."""


COMMANDS = [eval_group]
