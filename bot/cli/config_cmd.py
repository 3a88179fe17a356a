"""`socialbot config check|show`: validate the configuration without starting the bot."""

from __future__ import annotations

import click

from bot.cli.main import CliContext, print_json
from bot.plugin_registry import platform_specs


@click.group("config")
def config_group() -> None:
    """Validate and inspect the configuration."""


@config_group.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def check(ctx: CliContext, as_json: bool) -> None:
    """Validate the config file, environment overrides and secrets; exit 2 with file, key and reason."""
    loaded = ctx.config()
    # Each installed platform declares its token; only whether it is set is shown, never the value.
    tokens = {spec.name: spec.secrets_set(loaded) for spec in platform_specs() if spec.secrets}
    from bot.kb.settings import KbSection
    from bot.kb.staff import handoff_warnings

    warnings = handoff_warnings(loaded.section(KbSection))
    if as_json:
        print_json(
            {
                "ok": True,
                "source": loaded.source,
                "found_by": loaded.found_by,
                "database": str(loaded.database_path),
                "tokens_configured": tokens,
                "warnings": warnings,
            }
        )
        return
    click.echo(f"config OK: {loaded.source} (found by {loaded.found_by})")
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"database: {loaded.database_path}")
    for platform, present in tokens.items():
        click.echo(f"{platform} token: {'configured' if present else 'not configured'}")


@config_group.command("show")
@click.pass_obj
def show(ctx: CliContext) -> None:
    """Print the effective settings as JSON (secrets are never printed)."""
    print_json(ctx.config().settings.model_dump(mode="json"))


COMMANDS = [config_group]
