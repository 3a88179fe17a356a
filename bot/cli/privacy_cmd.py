"""`socialbot privacy export|forget|retention`: the owner's side of members' data rights, each audited."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot import audit
from bot.cli.main import CliContext, fail, print_json, status
from bot.privacy.export import export_member
from bot.privacy.feature_data import ForgetIncomplete, forget_in_features
from bot.privacy.forget import forget_member
from bot.privacy.member import Member, MemberError
from bot.privacy.retention import apply_retention
from bot.privacy.settings import PrivacySection
from bot.store import Store, StoreError

if TYPE_CHECKING:
    from bot.app import BotApp


@click.group("privacy")
def privacy_group() -> None:
    """Export or forget everything stored about a member; apply the retention limits now."""


def _open(ctx: CliContext) -> Store:
    try:
        return Store.open(ctx.config().database_path)
    except StoreError as exc:
        fail(f"database error: {exc}")


def _installed(ctx: CliContext) -> BotApp:
    """The installed features, installed on the database (not started: no model, no classifiers, no
    platform), so their export and forget hooks can run."""
    from bot.app import BotApp
    from bot.moderation.gate import GatePolicy, ModerationGate

    try:
        return BotApp.build(ctx.config(), gate=ModerationGate(GatePolicy()))
    except StoreError as exc:
        fail(f"database error: {exc}")


def _member(reference: str) -> Member:
    try:
        return Member.parse(reference)
    except MemberError as exc:
        fail(str(exc))


@privacy_group.command("export")
@click.argument("member")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="JSON file.")
@click.option("--json", "as_json", is_flag=True, help="Print a summary as JSON.")
@click.pass_obj
def export_command(ctx: CliContext, member: str, out: Path, as_json: bool) -> None:
    """Write everything stored about MEMBER (PLATFORM:USER, e.g. telegram:123456) to --out: every table's
    rows, and what each installed feature's export hook gives (a plug-in's own data included)."""
    who = _member(member)
    if not as_json:
        status("reading the installed features…")
    app = _installed(ctx)
    store = app.store
    try:
        document = export_member(store, who, app.features)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(document, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        counts = {table: len(rows) for table, rows in document["tables"].items()}
        by_feature = {name: len(rows) for name, rows in document["features"].items()}
        audit.record(
            store, "cli", "privacy.export", who.actor, after={"file": str(out), "rows": counts, "features": by_feature}
        )
    except OSError as exc:
        fail(f"cannot write {out}: {exc}")
    finally:
        store.close()
    if as_json:
        print_json({"member": who.actor, "file": str(out), "rows": counts, "features": by_feature})
    else:
        click.echo(f"exported {sum(counts.values()) + sum(by_feature.values())} rows about {who.actor} to {out}")
        for table, count in counts.items():
            click.echo(f"  {table}: {count}")
        for name, count in by_feature.items():
            click.echo(f"  {name} (feature): {count}")


@privacy_group.command("forget")
@click.argument("member")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows changed per table as JSON.")
@click.pass_obj
def forget_command(ctx: CliContext, member: str, yes: bool, as_json: bool) -> None:
    """Delete or anonymise everything stored about MEMBER (PLATFORM:USER), in every table and in every
    installed feature (its forget hook: a plug-in's own data too).

    A running bot keeps the conversation's cached keys/values until it restarts or the member writes again;
    the person's own /forgetme clears those too.
    """
    who = _member(member)
    if not yes and not as_json and not click.confirm(f"Forget everything about {who.actor}?"):
        fail("nothing changed", code=1)
    from bot.privacy.feature import PrivacyFeature

    app = _installed(ctx)
    store = app.store
    try:
        # As /forgetme does: every installed feature's own hook first (a plug-in's data; a hook may still look
        # the member up), then every table the privacy registry covers, the core's included. The privacy
        # feature's hook is that registry pass, so it runs once, here, with its per-table report.
        hooks = [feature for feature in app.features if not isinstance(feature, PrivacyFeature)]
        try:
            by_feature = forget_in_features(hooks, who)
        except ForgetIncomplete as exc:
            by_feature = {}
            failed = str(exc)
        else:
            failed = ""
        changed = forget_member(store, who)
        outcome = {"tables": changed, "features": by_feature} | ({"error": failed} if failed else {})
        audit.record(store, "cli", "privacy.forget", "deleted-user", after=outcome)
    finally:
        store.close()
    if failed:
        fail(f"forgot {who.actor} in every table, but {failed} (see the log); run it again once fixed")
    if as_json:
        print_json({"member": who.actor, "changed": changed, "features": by_feature})
    elif not changed and not by_feature:
        click.echo(f"nothing was stored about {who.actor}")
    else:
        parts = [f"{count} {table}" for table, count in changed.items()]
        parts += [f"{count} in {name}" for name, count in by_feature.items()]
        click.echo(f"forgot {who.actor}: " + ", ".join(parts))


@privacy_group.command("retention")
@click.option("--dry-run", is_flag=True, help="Say what would be removed, change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def retention_command(ctx: CliContext, dry_run: bool, as_json: bool) -> None:
    """Apply the [privacy] retention limits now (the bot also does this daily)."""
    section = ctx.config().section(PrivacySection)
    store = _open(ctx)
    try:
        status("applying retention limits…")
        report = apply_retention(store, section, datetime.now(UTC), dry_run=dry_run)
        if report.total and not dry_run:
            audit.record(store, "cli", "privacy.retention", "", after=report.as_dict())
    finally:
        store.close()
    if as_json:
        print_json({**report.as_dict(), "dry_run": dry_run})
    else:
        click.echo(("(dry run) " if dry_run else "") + report.describe())


COMMANDS = [privacy_group]
