"""Runs the real `socialbot` command line with discord.py pointed at a fake Discord on 127.0.0.1.

Discord has no configurable API address (Telegram has `base_url`), so end-to-end tests start the bot as
`python -m tests.fakes.discord_bootstrap --config FILE run` with FAKE_DISCORD_URL set: the same two URL
constants the in-process tests patch are set here, then the CLI runs unmodified.

FAKE_DISCORD_STORE_DELAY_S (seconds) makes the child store incoming messages one at a time, that long apart,
so a test can kill it while the gateway has delivered events the store does not hold yet.
"""

from __future__ import annotations

import asyncio
import faulthandler
import functools
import os
import signal
from typing import Any

import discord
import yarl
from discord.gateway import DiscordWebSocket

from bot.cli.main import main
from bot.inbox import Inbox
from tests.fakes.discord_gateway import FakeGateway


def point_discord_at(base_url: str) -> None:
    discord.http.Route.BASE = base_url + "/api/v10"
    ws_url = base_url.replace("http://", "ws://", 1)
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(ws_url + FakeGateway.PATH)


def slow_down_storing(delay_s: float) -> None:
    """Every `Inbox.receive` waits its turn, then `delay_s`, before it stores (in arrival order)."""
    receive = Inbox.receive
    turn = asyncio.Lock()

    @functools.wraps(receive)
    async def delayed(self: Inbox, *args: Any, **kwargs: Any) -> None:
        async with turn:
            await asyncio.sleep(delay_s)
            await receive(self, *args, **kwargs)

    Inbox.receive = delayed  # type: ignore[method-assign]


if __name__ == "__main__":
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # a test that times out asks for the stacks
    point_discord_at(os.environ["FAKE_DISCORD_URL"])
    if os.environ.get("FAKE_DISCORD_STORE_DELAY_S"):
        slow_down_storing(float(os.environ["FAKE_DISCORD_STORE_DELAY_S"]))
    main()
