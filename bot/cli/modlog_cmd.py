"""`socialbot modlog`: review and reverse automod actions, export admins' corrections for retraining."""

from __future__ import annotations

import json

import click

from bot.automod.modlog import ModerationLog
from bot.cli.main import CliContext, fail, print_json
from bot.store import Store


def _modlog(ctx: CliContext) -> ModerationLog:
    return ModerationLog(Store.open(ctx.config().database_path))


@click.group("modlog")
def modlog_group() -> None:
    """Review automod actions (the CLI operator is an admin)."""


@modlog_group.command("list")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_actions(ctx: CliContext, limit: int, as_json: bool) -> None:
    """The most recent automod actions, newest first."""
    entries = _modlog(ctx).recent(limit=limit)
    if as_json:
        for entry in entries:
            print_json(entry.__dict__)
        return
    if not entries:
        click.echo("No automod actions.")
    for entry in entries:
        click.echo(entry.summary())


@modlog_group.command("undo")
@click.argument("entry_id", type=int)
@click.pass_obj
def undo(ctx: CliContext, entry_id: int) -> None:
    """Undo an action: a timeout is lifted by the running bot within seconds (deleted messages stay deleted)."""
    modlog = _modlog(ctx)
    entry = modlog.get(entry_id)
    if entry is None:
        fail(f"no automod action #{entry_id}")
    if entry.undone_at:
        click.echo(f"#{entry_id} was already undone.")
        return
    modlog.mark_undone(entry_id, "cli:operator", reversal_pending="timeout" in entry.actions)
    click.echo(
        f"Undid #{entry_id}." + (" The bot lifts the timeout on its next check." if "timeout" in entry.actions else "")
    )


@modlog_group.command("wrong")
@click.argument("entry_id", type=int)
@click.pass_obj
def wrong(ctx: CliContext, entry_id: int) -> None:
    """Mark an action as a false positive: stored as a labelled example for the next training run."""
    modlog = _modlog(ctx)
    entry = modlog.get(entry_id)
    if entry is None:
        fail(f"no automod action #{entry_id}")
    modlog.mark_wrong(entry_id, "cli:operator")
    if not entry.undone_at:
        modlog.mark_undone(entry_id, "cli:operator", reversal_pending="timeout" in entry.actions)
    click.echo(f"#{entry_id} stored as a false positive and undone.")


@modlog_group.command("feedback")
@click.pass_obj
def feedback(ctx: CliContext) -> None:
    """Admins' corrections as JSON lines (text, label), ready for scripts/train_moderation.py."""
    for row in _modlog(ctx).feedback():
        click.echo(json.dumps(row, ensure_ascii=False))


COMMANDS = [modlog_group]
