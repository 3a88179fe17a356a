"""Config discovery: --config, $SOCIALBOT_CONFIG, ./socialbot.toml, the XDG config folder, then defaults."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli.main import main
from bot.config import ConfigError, load_config, locate_config

ROOT = Path(__file__).resolve().parents[2]


def _write(path: Path, bot_name: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"[bot]\nname = '{bot_name}'\n", encoding="utf-8")
    return path


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    """A working directory and an XDG config home, both empty."""
    work, xdg = tmp_path / "work", tmp_path / "xdg"
    work.mkdir()
    xdg.mkdir()
    return {"work": work, "xdg": xdg, "home": tmp_path / "home"}


def _env(places: dict[str, Path], **extra: str) -> dict[str, str]:
    return {"XDG_CONFIG_HOME": str(places["xdg"]), "HOME": str(places["home"]), **extra}


def test_without_any_file_the_defaults_are_used(places: dict[str, Path]) -> None:
    loaded = load_config(environ=_env(places), cwd=places["work"])
    assert (loaded.source, loaded.found_by) == ("(defaults)", "defaults")
    assert loaded.base_dir == places["work"]


def test_the_xdg_config_folder_is_read_when_the_working_directory_has_no_file(places: dict[str, Path]) -> None:
    user_file = _write(places["xdg"] / "socialbot" / "socialbot.toml", "XdgBot")
    loaded = load_config(environ=_env(places), cwd=places["work"])
    assert loaded.settings.bot.name == "XdgBot"
    assert (loaded.source, loaded.found_by) == (str(user_file), "XDG config folder")


def test_xdg_defaults_to_dot_config_under_home(places: dict[str, Path]) -> None:
    _write(places["home"] / ".config" / "socialbot" / "socialbot.toml", "HomeBot")
    environ = {"HOME": str(places["home"]), "XDG_CONFIG_HOME": "relative/ignored"}
    assert load_config(environ=environ, cwd=places["work"]).settings.bot.name == "HomeBot"


def test_the_working_directory_file_wins_over_the_xdg_one(places: dict[str, Path]) -> None:
    _write(places["xdg"] / "socialbot" / "socialbot.toml", "XdgBot")
    local = _write(places["work"] / "socialbot.toml", "LocalBot")
    loaded = load_config(environ=_env(places), cwd=places["work"])
    assert loaded.settings.bot.name == "LocalBot"
    assert (loaded.found_by, loaded.base_dir) == ("working directory", local.parent)


def test_the_environment_variable_wins_over_discovered_files(places: dict[str, Path], tmp_path: Path) -> None:
    _write(places["work"] / "socialbot.toml", "LocalBot")
    chosen = _write(tmp_path / "elsewhere.toml", "EnvBot")
    loaded = load_config(environ=_env(places, SOCIALBOT_CONFIG=str(chosen)), cwd=places["work"])
    assert (loaded.settings.bot.name, loaded.found_by) == ("EnvBot", "SOCIALBOT_CONFIG")


def test_an_explicit_path_wins_over_everything(places: dict[str, Path], tmp_path: Path) -> None:
    _write(places["work"] / "socialbot.toml", "LocalBot")
    env_file = _write(tmp_path / "env.toml", "EnvBot")
    explicit = _write(tmp_path / "explicit.toml", "ExplicitBot")
    loaded = load_config(explicit, environ=_env(places, SOCIALBOT_CONFIG=str(env_file)), cwd=places["work"])
    assert (loaded.settings.bot.name, loaded.found_by) == ("ExplicitBot", "--config")


def test_a_missing_explicit_file_is_an_error_not_a_silent_fallback(places: dict[str, Path]) -> None:
    _write(places["work"] / "socialbot.toml", "LocalBot")
    missing = places["work"] / "typo.toml"
    with pytest.raises(ConfigError) as error:
        load_config(missing, environ=_env(places), cwd=places["work"])
    assert (error.value.source, error.value.reason) == (str(missing), "file not found")


def test_a_folder_named_like_the_config_is_not_taken_for_it(places: dict[str, Path]) -> None:
    (places["work"] / "socialbot.toml").mkdir()
    assert locate_config(environ=_env(places), cwd=places["work"]).found_by == "defaults"


def test_config_check_says_which_file_it_used(places: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    local = _write(places["work"] / "socialbot.toml", "LocalBot")
    monkeypatch.chdir(places["work"])
    monkeypatch.delenv("SOCIALBOT_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(places["xdg"]))
    runner = CliRunner()
    as_json = runner.invoke(main, ["config", "check", "--json"])
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.output)
    assert (report["source"], report["found_by"]) == (str(local), "working directory")
    for_people = runner.invoke(main, ["config", "check"])
    assert for_people.output.splitlines()[0] == f"config OK: {local} (found by working directory)"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_run_passes_config_to_the_command_line(tmp_path: Path) -> None:
    chosen = tmp_path / "my bot.toml"
    dry_run = subprocess.run(
        ["make", "-n", "run", f"CONFIG={chosen}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "MAKEFLAGS": ""},
    )
    assert f'.venv/bin/socialbot --config "{chosen}" run' in dry_run.stdout
    without = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert ".venv/bin/socialbot  run" in without.stdout or ".venv/bin/socialbot run" in without.stdout
