"""`socialbot run`, `chat` and `ask`: talk to the bot through the full pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from concurrent.futures import Future

import click

from bot.cli.main import CliContext, configure_logging, fail, status
from bot.ops.control import ControlServer, control_socket_path
from bot.ops.startup import BackgroundStart, start_failure
from bot.platform import Adapter
from bot.plugin_registry import platform_specs

# `socialbot run` connects its platforms before the model and classifiers begin to load, unless connecting takes
# longer than this (a slow or unreachable platform never holds the model back for more than that).
HOLD_LOADS_WHILE_CONNECTING_S = 5.0
RELEASE_LOADS_AFTER_CONNECT_S = 0.2


@click.command("chat")
@click.option("--chat-id", default="local", show_default=True, help="Conversation to continue.")
@click.pass_obj
def chat(ctx: CliContext, chat_id: str) -> None:
    """Chat with the bot in the terminal (same manager, store and gate as the platforms)."""
    config = ctx.config()
    configure_logging("WARNING", config.settings.logging.file)
    first_line = read_first_line(config.settings.bot.name)
    asyncio.run(_chat(ctx.start_in_background(), chat_id, first_line))


def read_first_line(bot_name: str) -> Future[str]:
    """Show the prompt now and read the first line on a thread while the bot builds and its model loads."""
    if sys.stdin.isatty():
        status(f"{bot_name}: type a message, /help for commands, /quit to leave.")
        sys.stdout.write("you> ")
        sys.stdout.flush()
    line: Future[str] = Future()

    def read() -> None:
        try:
            line.set_result(sys.stdin.readline())
        except BaseException as exc:
            line.set_exception(exc)

    threading.Thread(target=read, name="socialbot-console-first-line", daemon=True).start()
    return line


def ask_server(start: BackgroundStart) -> ControlServer:
    """While the bot runs, `socialbot ask` on the same database is answered by it (`bot.ops.control`)."""
    from bot.cli.ask_cmd import control_handler

    return ControlServer(control_socket_path(start.app.config.database_path), control_handler(start.app))


async def _chat(
    start: BackgroundStart, chat_id: str, first_line: Future[str] | None = None, serve_asks: bool = False
) -> None:
    from bot.plugin_registry import open_chat

    asks = ask_server(start) if serve_asks else None
    app = start.app
    starting = start.begin(progress=status)
    console = open_chat(app.platform_context(), chat_id)
    pending = [first_line] if first_line is not None else []
    prompt = console.prompt

    def read_line() -> str:
        if pending:  # typed at the prompt shown before the bot was built
            line = pending.pop().result()
            console.prompt = prompt
        else:
            line = console.input_stream.readline()
        if line.strip() and not start.ready:
            status("(still starting: your message is stored and answered as soon as the model is up)")
        return line

    if pending:
        console.prompt = ""  # already shown
    try:
        if asks is not None:
            await asks.start()
        await console.start()
        chatting = asyncio.ensure_future(console.run(read_line))
        await asyncio.wait([chatting, starting], return_when=asyncio.FIRST_COMPLETED)
        if starting.done() and starting.exception() is not None:
            chatting.cancel()
            fail(start_failure(starting.exception()))  # type: ignore[arg-type]
        await chatting
    finally:
        if asks is not None:
            await asks.stop(grace_s=app.config.settings.delivery.shutdown_grace_s)
        await start.settle()
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
        first_line = read_first_line(config.settings.bot.name)
        start = ctx.start_in_background()
        try:
            asyncio.run(_chat(start, "local", first_line, serve_asks=True))
        finally:
            start.app.store.close()  # the loop's worker threads have ended: their connections close now
        return
    start = ctx.start_in_background(hold_loads_s=HOLD_LOADS_WHILE_CONNECTING_S)
    try:
        asyncio.run(_run_platforms(start))
    finally:
        start.app.store.close()  # the loop's worker threads have ended: their connections close now


async def _run_platforms(start: BackgroundStart) -> None:
    """Connect the platforms as soon as the bot is built, then load the model and classifiers."""
    app = start.app
    adapters: list[Adapter] = []
    starting = start.begin(progress=status)
    asks = ask_server(start)
    try:
        await asks.start()
        for spec in platform_specs():
            if not spec.interactive and spec.configured(app.config):
                adapters.append(spec.create(app.platform_context()))
        try:
            for adapter in adapters:
                await adapter.start()
                status(f"{adapter.platform} adapter started")
        finally:
            # After the first long poll has gone out: loads begun at once compete with it for the GIL
            # (measured: 1.31-1.74 s of CPU to the first getUpdates that way, 1.25-1.36 s holding them back).
            asyncio.get_running_loop().call_later(RELEASE_LOADS_AFTER_CONNECT_S, start.release_loads)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, stop.set)
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait([stopping, starting], return_when=asyncio.FIRST_COMPLETED)
        if starting.done() and starting.exception() is not None:
            stopping.cancel()
            raise starting.exception()  # type: ignore[misc]
        if not stop.is_set():
            status("ready: model loaded, every feature started")
            await stopping
        grace = app.config.settings.delivery.shutdown_grace_s
        status(f"shutting down: finishing replies in flight (up to {grace:.0f} s)…")
        for adapter in adapters:
            await adapter.stop_receiving()
        cut_off = await app.drain()
        if cut_off:
            status(f"{cut_off} conversations were cut off; they are answered on the next start")
    except Exception as exc:
        fail(start_failure(exc))
    finally:
        await asks.stop(grace_s=app.config.settings.delivery.shutdown_grace_s)
        await start.settle()
        for adapter in reversed(adapters):
            try:
                await adapter.stop()
            except Exception as exc:  # one adapter failing to stop must not keep the others running
                status(f"{adapter.platform} adapter failed to stop cleanly: {exc}")
        await app.stop()


COMMANDS = [run, chat]  # `ask` lives in bot/cli/ask_cmd.py
