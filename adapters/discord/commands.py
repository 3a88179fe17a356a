"""Slash commands: one Discord application command per socialbot `Command`, each with one optional `args`.

The commands only carry the invocation back to the adapter; what a command does is the manager's business.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import discord
from discord import app_commands

from bot.routing import Command

log = logging.getLogger(__name__)

# Called with the interaction, the command name and its raw arguments ("" when none were given).
CommandInvoker = Callable[[discord.Interaction, str, str], Awaitable[None]]
DESCRIPTION_LIMIT = 100


def app_command_for(command: Command, invoke: CommandInvoker) -> app_commands.Command[Any, ..., None]:
    """The application command standing for `command`; raises ValueError for a name Discord rejects."""
    name = command.name

    @app_commands.describe(args=(command.usage or "arguments for the command")[:DESCRIPTION_LIMIT])
    async def run_command(interaction: discord.Interaction, args: str | None = None) -> None:
        await invoke(interaction, name, args or "")

    description = (command.description or command.name)[:DESCRIPTION_LIMIT]
    return app_commands.Command(name=name, description=description, callback=run_command)


def install_commands(tree: app_commands.CommandTree, commands: Iterable[Command], invoke: CommandInvoker) -> list[str]:
    """Add every command to `tree` (globally); returns the names installed, skipping names Discord rejects."""
    installed = []
    for command in commands:
        try:
            tree.add_command(app_command_for(command, invoke), override=True)
        except (ValueError, TypeError, app_commands.AppCommandError) as exc:
            log.warning("command /%s is not available as a Discord slash command: %s", command.name, exc)
            continue
        installed.append(command.name)
    return installed
