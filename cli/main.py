"""`socialbot` command line: one click command per library function, output for people, `--json` for scripts."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click

from bot import __version__
from bot.app import BotApp
from bot.config import ConfigError, LoadedConfig, load_config
from bot.store import StoreError


@dataclass
class CliContext:
    """What every command shares: where the config is, and how to load it with a clear error."""

    config_path: str | None
    secrets_path: str | None
    _config: LoadedConfig | None = None

    def config(self) -> LoadedConfig:
        if self._config is None:
            try:
                self._config = load_config(self.config_path, self.secrets_path)
            except ConfigError as exc:
                fail(f"config error: {exc}")
        return self._config

    def build_app(self, progress: Callable[[str], None] | None = None, **kwargs: Any) -> BotApp:
        try:
            return BotApp.build(self.config(), progress=progress or status, **kwargs)
        except StoreError as exc:
            fail(f"database error: {exc}")


def fail(message: str, code: int = 2) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def status(line: str) -> None:
    """Progress for people, on stderr so stdout stays clean for `--json`."""
    click.echo(line, err=True)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, default=str))


def configure_logging(level: str, log_file: str = "") -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers = [logging.FileHandler(log_file, encoding="utf-8")]
    logging.basicConfig(
        level=level, handlers=handlers, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    for noisy in ("httpx", "httpcore", "discord.gateway", "discord.client", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="socialbot")
@click.option(
    "--config",
    "config_path",
    envvar="SOCIALBOT_CONFIG",
    type=click.Path(dir_okay=False),
    help="TOML config file (default: $SOCIALBOT_CONFIG, else built-in defaults).",
)
@click.option(
    "--secrets",
    "secrets_path",
    envvar="SOCIALBOT_SECRETS",
    type=click.Path(dir_okay=False),
    help="TOML secrets file with bot tokens (default: $SOCIALBOT_SECRETS).",
)
@click.pass_context
def main(ctx: click.Context, config_path: str | None, secrets_path: str | None) -> None:
    """socialbot: a self-hosted AI bot for Discord and Telegram communities, on a local language model."""
    ctx.obj = CliContext(config_path, secrets_path)


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)


# Command modules, each exposing COMMANDS; a feature adds its module's name here.
COMMAND_MODULES = (
    "config_cmd",
    "chat_cmd",
    "moderate_cmd",
    "bench_cmd",
    "eval_cmd",
    "schedule_cmd",
    "modlog_cmd",
    "rules_cmd",
    "kb_cmd",
    "ask_cmd",
)


def register_commands() -> None:
    """Attach every command module's commands to `main` (each module owns one group or command)."""
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(f"cli.{module_name}")
        for command in module.COMMANDS:
            main.add_command(command)


register_commands()
