"""The built wheel holds what the bot reads at run time: the prompts, the shipped model data, the entry points
of the built-in features and platforms, the command-line script (a non-editable install runs from it), and the
project's own evaluation sets for `socialbot eval`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_ships_prompts_model_data_and_entry_points(tmp_path: Path) -> None:
    # Built from a copy: an in-tree build leaves socialbot.egg-info at the root, whose stale entry points
    # would shadow the installed ones for anything run from the checkout.
    source = tmp_path / "source"
    for name in ("bot", "adapters", "prompts", "eval"):
        shutil.copytree(ROOT / name, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), "."],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=600,
    )
    [wheel] = tmp_path.glob("socialbot-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        [entry_points] = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
        declared = archive.read(entry_points).decode()
    shipped_prompts = {
        name.removeprefix("bot/bundled_prompts/") for name in names if name.startswith("bot/bundled_prompts/")
    }
    in_repo = {str(path.relative_to(ROOT / "prompts")) for path in (ROOT / "prompts").rglob("*") if path.is_file()}
    assert in_repo and shipped_prompts == in_repo
    shipped_sets = {
        name.removeprefix("bot/evaluation/sets/") for name in names if name.startswith("bot/evaluation/sets/")
    }
    own_sets = {str(path.relative_to(ROOT / "eval")) for path in (ROOT / "eval").rglob("*") if path.is_file()}
    assert own_sets and shipped_sets == own_sets
    for prefix in (
        "bot/moderation/weights/",
        "bot/moderation/wordlists/",
        "bot/kb/weights/",
        "bot/dashboard/templates/",
    ):
        assert any(name.startswith(prefix) for name in names), prefix
    assert "bot/cli/main.py" in names and not any(name.startswith(("cli/", "prompts/", "tests/")) for name in names)
    assert "socialbot = bot.cli.main:main" in declared
    assert "[socialbot.features]" in declared and "rules = bot.rules.plugin:spec" in declared
    assert "[socialbot.platforms]" in declared and "telegram = adapters.telegram.platform:spec" in declared
