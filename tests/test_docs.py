"""README documents every CLI command and subcommand (a new command without docs fails this test)."""

from __future__ import annotations

import re
from pathlib import Path

import click

from bot.cli.main import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def commands() -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    for name, command in main.commands.items():
        if isinstance(command, click.Group):
            found.extend((name, sub) for sub in command.commands)
        else:
            found.append((name, None))
    return found


def test_every_command_is_documented_in_the_readme() -> None:
    missing = []
    for name, sub in commands():
        lines = [line for line in README.splitlines() if f"socialbot {name}" in line]
        if not lines:
            missing.append(name)
        elif sub is not None and not any(re.search(rf"\b{re.escape(sub)}\b", line) for line in lines):
            missing.append(f"{name} {sub}")
    assert missing == [], f"undocumented commands: {missing}"


def test_readme_test_command_is_what_ci_runs() -> None:
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci and "make test" in README
