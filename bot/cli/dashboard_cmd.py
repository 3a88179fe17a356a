"""`socialbot dashboard`: serve the owner's dashboard on its own, set its password, time its pages."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

import click

from bot.cli.main import CliContext, configure_logging, fail, print_json, status
from bot.dashboard.settings import PASSWORD, DashboardSection


@click.group("dashboard", invoke_without_command=True)
@click.option("--host", default=None, help="Listen address (default: [dashboard] host, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default: [dashboard] port, 8770).")
@click.pass_context
def dashboard_group(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the web dashboard against the bot's database (without running the bot)."""
    if ctx.invoked_subcommand is not None:
        return
    cli: CliContext = ctx.obj
    config = cli.config()
    configure_logging(config.settings.logging.level, config.settings.logging.file)
    changes = {key: value for key, value in (("host", host), ("port", port)) if value is not None}
    if changes:
        config = config.with_section(config.section(DashboardSection).model_copy(update=changes))
        cli._config = config
    app = cli.build_app()
    asyncio.run(_serve(app))


async def _serve(app: object) -> None:
    from bot.app import BotApp
    from bot.dashboard.server import DashboardServer

    assert isinstance(app, BotApp)
    server = DashboardServer(app.context, engine_ready=False)
    try:
        await server.start()
    except OSError as exc:
        app.store.close()
        fail(f"cannot listen on {server.settings.host}:{server.settings.port}: {exc.strerror or exc}")
    status(f"dashboard: {server.url} (Ctrl+C to stop)")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
        app.store.close()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("New dashboard password", hide_input=True, confirmation_prompt=True))


@dashboard_group.command("set-password")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_obj
def set_password(ctx: CliContext, from_stdin: bool) -> None:
    """Store the owner's password (as a salted scrypt hash) in the bot's database."""
    from bot.dashboard import DashboardError
    from bot.dashboard.passwords import store_password
    from bot.store import Store, StoreError

    config = ctx.config()
    password = _read_password(from_stdin)
    try:
        store = Store.open(config.database_path)
    except StoreError as exc:
        fail(f"database error: {exc}")
    try:
        store_password(store, password)
        from bot import audit

        audit.record(store, "cli", "dashboard.set_password", "owner")
    except DashboardError as exc:
        fail(f"password not set: {exc}")
    finally:
        store.close()
    if config.secrets.value(PASSWORD.key) is not None:
        status("note: a dashboard_password secret is configured and takes precedence over the stored one")
    click.echo(f"dashboard password stored (hashed) in {config.database_path}")


@dashboard_group.command("hash-password")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the password from the first line of stdin.")
def hash_password_cmd(from_stdin: bool) -> None:
    """Print a hash of a password to use as the `dashboard_password` secret (so no plain password is kept)."""
    from bot.dashboard import DashboardError
    from bot.dashboard.passwords import check_strength, hash_password

    password = _read_password(from_stdin)
    try:
        check_strength(password)
    except DashboardError as exc:
        fail(f"not hashed: {exc}")
    click.echo(hash_password(password))


@dashboard_group.command("bench")
@click.option("--messages", default=100_000, show_default=True, help="Messages to generate.")
@click.option("--repeat", default=5, show_default=True, help="Timed requests per page (the median is reported).")
@click.option("--json", "as_json", is_flag=True)
def bench(messages: int, repeat: int, as_json: bool) -> None:
    """Fill a temporary database with MESSAGES messages and time every page (target: 300 ms each)."""
    from bot.benchmarks.dashboard import format_bench, run_bench

    result = asyncio.run(run_bench(messages, repeat, progress=status))
    print_json(result) if as_json else click.echo(format_bench(result))


COMMANDS = [dashboard_group]
