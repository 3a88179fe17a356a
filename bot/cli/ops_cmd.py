"""`socialbot backup`, `restore` and `doctor`: keeping a deployment healthy (library code in bot/ops/)."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.main import CliContext, fail, print_json, status

STATUS_MARKS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


@click.command("backup")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write the backup to (replaced atomically when it exists).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def backup(ctx: CliContext, out: Path, as_json: bool) -> None:
    """Copy the database to FILE with SQLite's online backup API; safe while the bot runs."""
    from bot.ops.backup import BackupError, backup_database

    database = ctx.config().database_path
    try:
        result = backup_database(database, out)
    except BackupError as exc:
        fail(f"backup failed: {exc}")
    if as_json:
        print_json({"ok": True, "database": str(database), "out": str(result.path), "bytes": result.bytes})
        return
    click.echo(f"backed up {database} to {result.path} ({result.bytes / 1024:.0f} KiB, integrity ok)")


@click.command("restore")
@click.argument("backup_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def restore(ctx: CliContext, backup_file: Path, yes: bool, as_json: bool) -> None:
    """Replace the database with BACKUP_FILE; stop the bot first. The replaced database is kept beside it."""
    from bot.ops.backup import BackupError, restore_database

    database = ctx.config().database_path
    if not yes and not click.confirm(f"Replace {database} with {backup_file}?", err=True):
        fail("restore cancelled", code=1)
    try:
        result = restore_database(backup_file, database)
    except BackupError as exc:
        fail(f"restore failed: {exc}")
    previous = str(result.previous_copy) if result.previous_copy else None
    if as_json:
        print_json({"ok": True, "database": str(database), "restored_from": str(backup_file), "previous": previous})
        return
    click.echo(f"restored {database} from {backup_file} (integrity ok)")
    if previous:
        click.echo(f"the replaced database is kept in {previous}")


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.option("--timeout", "timeout_s", default=5.0, show_default=True, help="Seconds allowed per network check.")
@click.option("--full", is_flag=True, help="Run the full integrity_check instead of quick_check.")
@click.option("--offline", is_flag=True, help="Skip the network checks (platforms, model server).")
@click.option(
    "--api-base",
    "api_bases",
    multiple=True,
    metavar="PLATFORM=URL",
    help="Ask a platform's API at URL instead (a proxy or a test server), e.g. discord=http://127.0.0.1:8080/api/v10.",
)
@click.pass_obj
def doctor(
    ctx: CliContext, as_json: bool, timeout_s: float, full: bool, offline: bool, api_bases: tuple[str, ...]
) -> None:
    """Check config, secrets, database, disk, model and platforms, and say what to fix (exit 1 on a failure)."""
    from bot.config import ConfigError, load_config
    from bot.ops.doctor import Check, DoctorOptions, run_checks, worst

    try:
        config = load_config(ctx.config_path, ctx.secrets_path)
    except ConfigError as exc:
        checks = [Check("config", "fail", str(exc), f"fix {exc.key} in {exc.source}")]
    else:
        if not as_json:
            status("checking…")
        bases = {name: url for name, _, url in (entry.partition("=") for entry in api_bases)}
        if any(not name or not url for name, url in bases.items()):
            raise click.BadParameter(
                "give it as PLATFORM=URL, e.g. discord=http://127.0.0.1:8080/api/v10", param_hint="--api-base"
            )
        options = DoctorOptions(timeout_s=timeout_s, full_integrity=full, api_bases=bases, check_network=not offline)
        checks = run_checks(config, options)
    verdict = worst(checks)
    if as_json:
        print_json({"status": verdict, "checks": [check.as_dict() for check in checks]})
    else:
        for check in checks:
            click.echo(f"{STATUS_MARKS[check.status]}  {check.name}: {check.detail}")
            if check.fix:
                click.echo(f"      fix: {check.fix}")
        click.echo(
            {"ok": "all good", "warn": "usable, with warnings", "fail": "not ready: fix the FAIL lines"}[verdict]
        )
    if verdict == "fail":
        raise SystemExit(1)


COMMANDS = [backup, restore, doctor]
