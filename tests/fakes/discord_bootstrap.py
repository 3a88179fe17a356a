"""Runs the real `socialbot` command line with discord.py pointed at a fake Discord on 127.0.0.1.

Discord has no configurable API address (Telegram has `base_url`), so end-to-end tests start the bot as
`python -m tests.fakes.discord_bootstrap --config FILE run` with FAKE_DISCORD_URL set: the same two URL
constants the in-process tests patch are set here, then the CLI runs unmodified.
"""

from __future__ import annotations

import faulthandler
import os
import signal

import discord
import yarl
from discord.gateway import DiscordWebSocket

from bot.cli.main import main
from tests.fakes.discord_gateway import FakeGateway


def point_discord_at(base_url: str) -> None:
    discord.http.Route.BASE = base_url + "/api/v10"
    ws_url = base_url.replace("http://", "ws://", 1)
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(ws_url + FakeGateway.PATH)


if __name__ == "__main__":
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # a test that times out asks for the stacks
    point_discord_at(os.environ["FAKE_DISCORD_URL"])
    main()
