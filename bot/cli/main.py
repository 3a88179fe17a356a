"""`socialbot` command line: one click command per library function, output for people, `--json` for scripts."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from bot import __version__
from bot.config import ConfigError, LoadedConfig, load_config

if TYPE_CHECKING:
    from bot.app import BotApp
    from bot.ops.startup import BackgroundStart

# Commands that start the bot: their model loads while the classifiers load (bot/ops/startup.py).
STARTING_COMMANDS = frozenset({"run", "chat", "ask"})


@dataclass
class CliContext:
    """What every command shares: where the config is, and how to load it with a clear error."""

    config_path: str | None
    secrets_path: str | None
    # `socialbot run` serves /healthz and /metrics ([metrics]); one-shot commands never bind the port.
    serve_ops: bool = False
    # The command will start the bot: the model and classifiers load on threads right after the build.
    preload_model: bool = False
    _config: LoadedConfig | None = None

    def config(self) -> LoadedConfig:
        if self._config is None:
            try:
                self._config = load_config(self.config_path, self.secrets_path)
            except ConfigError as exc:
                fail(f"config error: {exc}")
        return self._config

    def build_app(
        self, progress: Callable[[str], None] | None = None, model_on_demand: bool = False, **kwargs: Any
    ) -> BotApp:
        from bot.app import BotApp
        from bot.engine.base import EngineError
        from bot.store import StoreError

        config = self.config()
        self._add_ops_feature(kwargs)
        try:
            if self.preload_model:
                from bot.ops.startup import build_app_in_parallel

                return build_app_in_parallel(
                    config, progress=progress or status, model_on_demand=model_on_demand, **kwargs
                )
            return BotApp.build(config, progress=progress or status, **kwargs)
        except StoreError as exc:
            fail(f"database error: {exc}")
        except EngineError as exc:
            fail(f"model error: {exc}")

    def start_in_background(
        self, progress: Callable[[str], None] | None = None, hold_loads_s: float = 0.0
    ) -> BackgroundStart:
        """The bot built (platforms may connect) with its model, classifiers and features starting in the
        background (`bot.ops.startup.BackgroundStart`, which says what `hold_loads_s` does); call `.begin()`
        on the event loop."""
        from bot.ops.startup import BackgroundStart, start_failure
        from bot.store import StoreError

        kwargs: dict[str, Any] = {}
        self._add_ops_feature(kwargs)
        try:
            return BackgroundStart(self.config(), progress or status, hold_loads_s=hold_loads_s, **kwargs)
        except StoreError as exc:
            fail(start_failure(exc))

    def _add_ops_feature(self, kwargs: dict[str, Any]) -> None:
        if self.serve_ops and "features" not in kwargs:
            from bot.app import default_features, feature_named

            config = self.config()
            kwargs["features"] = [*default_features(config), feature_named("ops", config)]


def fail(message: str, code: int = 2) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def status(line: str) -> None:
    """Progress for people, on stderr so stdout stays clean for `--json`."""
    click.echo(line, err=True)


def exit_without_teardown(code: int = 0) -> None:
    """End the `socialbot` process now, skipping the interpreter's teardown (about 1 s once torch and the models
    are loaded). Only for a command that has closed its store and stopped its threads' work, and only when this
    process is the command line itself (run standalone, printing to its own stdout); otherwise (a test's
    `CliRunner`, `main(..., standalone_mode=False)`) it returns and the command ends normally."""
    if not (_RUN_STANDALONE and sys.stdout is sys.__stdout__):
        return
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.flush()
    logging.shutdown()
    os._exit(code)


_RUN_STANDALONE = False


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


class LazyGroup(click.Group):
    """A group whose command modules are imported only when needed: `socialbot ask` imports the modules up
    to the one defining `ask`, not every feature's CLI; `--help` and `main.commands` still see them all."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._commands: dict[str, click.Command] = {}
        self._pending_modules: list[str] = []
        super().__init__(*args, **kwargs)

    @property  # type: ignore[override]
    def commands(self) -> dict[str, click.Command]:
        self._import_pending()
        return self._commands

    @commands.setter
    def commands(self, value: dict[str, click.Command]) -> None:
        self._commands = dict(value)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        if name is None:
            raise TypeError("Command has no name.")
        self._commands[name] = cmd

    def add_lazy_modules(self, module_names: tuple[str, ...]) -> None:
        self._pending_modules.extend(module_names)

    def _import_next(self) -> bool:
        if not self._pending_modules:
            return False
        module = importlib.import_module(self._pending_modules.pop(0))
        for command in module.COMMANDS:
            self.add_command(command)
        return True

    def _import_pending(self) -> None:
        while self._import_next():
            pass

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        while cmd_name not in self._commands and self._import_next():
            pass
        return self._commands.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.commands)

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        global _RUN_STANDALONE
        _RUN_STANDALONE = standalone_mode
        return super().main(args, prog_name, standalone_mode=standalone_mode, **extra)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="socialbot")
@click.option(
    "--config",
    "config_path",
    envvar="SOCIALBOT_CONFIG",
    type=click.Path(dir_okay=False),
    help="TOML config file (default: $SOCIALBOT_CONFIG, else ./socialbot.toml, else "
    "$XDG_CONFIG_HOME/socialbot/socialbot.toml, else built-in defaults).",
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
    command = ctx.invoked_subcommand
    ctx.obj = CliContext(
        config_path, secrets_path, serve_ops=command == "run", preload_model=command in STARTING_COMMANDS
    )


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)


# The core's command modules, each exposing COMMANDS; features declare theirs in `FeatureSpec.cli_modules`.
COMMAND_MODULES = (
    "bot.cli.config_cmd",
    "bot.cli.chat_cmd",
    "bot.cli.moderate_cmd",
    "bot.cli.bench_cmd",
    "bot.cli.eval_cmd",
    "bot.cli.ask_cmd",
)


def register_commands() -> None:
    """Attach the core's and every installed feature's command modules to `main`, imported when first
    needed (see `LazyGroup`)."""
    from bot.plugin_registry import feature_specs

    assert isinstance(main, LazyGroup)
    main.add_lazy_modules(COMMAND_MODULES)
    main.add_lazy_modules(tuple(module for spec in feature_specs() for module in spec.cli_modules))


register_commands()
