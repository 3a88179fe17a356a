"""`socialbot run`, `chat` and `ask`: talk to the bot through the full pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

import click

from bot.app import BotApp
from bot.cli.main import CliContext, configure_logging, fail, status
from bot.platform import Adapter
from bot.plugin_registry import platform_specs


@click.command("chat")
@click.option("--chat-id", default="local", show_default=True, help="Conversation to continue.")
@click.pass_obj
def chat(ctx: CliContext, chat_id: str) -> None:
    """Chat with the bot in the terminal (same manager, store and gate as the platforms)."""
    config = ctx.config()
    configure_logging("WARNING", config.settings.logging.file)
    app = ctx.build_app()
    asyncio.run(_chat(app, chat_id))


async def _chat(app: BotApp, chat_id: str) -> None:
    from bot.plugin_registry import open_chat

    await app.start(progress=status)
    console = open_chat(app.platform_context(), chat_id)
    if sys.stdin.isatty():
        status(f"{app.config.settings.bot.name} is ready. Type a message, /help for commands, /quit to leave.")
    try:
        await console.start()
        await console.run()
    finally:
        await console.stop()
        await app.stop()


@click.command("run")
@click.pass_obj
def run(ctx: CliContext) -> None:
    """Start every adapter whose token is configured; the console chat when none is."""
    config = ctx.config()
    configure_logging(config.settings.logging.level, config.settings.logging.file)
    platforms = [spec for spec in platform_specs() if not spec.interactive]
    if not any(spec.configured(config) for spec in platforms):
        names = ", ".join(spec.name for spec in platforms) or "none installed"
        status(f"no platform token configured ({names}): starting the console chat")
        configure_logging("WARNING", config.settings.logging.file)
        app = ctx.build_app()
        asyncio.run(_chat(app, "local"))
        return
    app = ctx.build_app()
    asyncio.run(_run_platforms(app))


async def _run_platforms(app: BotApp) -> None:
    adapters: list[Adapter] = []
    await app.start(progress=status)
    try:
        for spec in platform_specs():
            if not spec.interactive and spec.configured(app.config):
                adapters.append(spec.create(app.platform_context()))
        for adapter in adapters:
            await adapter.start()
            status(f"{adapter.platform} adapter started")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        grace = app.config.settings.delivery.shutdown_grace_s
        status(f"shutting down: finishing replies in flight (up to {grace:.0f} s)…")
        for adapter in adapters:
            await adapter.stop_receiving()
        cut_off = await app.drain()
        if cut_off:
            status(f"{cut_off} conversations were cut off; they are answered on the next start")
    except Exception as exc:
        fail(f"startup failed: {exc}")
    finally:
        for adapter in reversed(adapters):
            try:
                await adapter.stop()
            except Exception as exc:  # one adapter failing to stop must not keep the others running
                status(f"{adapter.platform} adapter failed to stop cleanly: {exc}")
        await app.stop()


COMMANDS = [run, chat]  # `ask` lives in bot/cli/ask_cmd.py
