"""`socialbot drafts ...` and `socialbot schedule ...` work on the database alone, for people and scripts."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bot.cli.main import main
from bot.store import Store
from bot.suggest.drafts import DraftStore


def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "socialbot.toml"
    path.write_text('[bot]\ndatabase = "bot.db"\n[scheduler]\ntimezone = "Europe/Paris"\n')
    return path


def run(config: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_review_and_schedule_a_draft_from_the_command_line(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    store = Store.open(tmp_path / "bot.db")
    DraftStore(store).add("Pottery night on Friday!", topic="pottery night")
    store.close()

    assert "#1 [draft]" in run(config, "drafts", "list")
    edited = json.loads(run(config, "drafts", "edit", "1", "Pottery night this Friday at 7!", "--json"))
    assert (edited["status"], edited["text"]) == ("draft", "Pottery night this Friday at 7!")
    assert "#1 [approved]" in run(config, "drafts", "approve", "1")

    added = json.loads(
        run(config, "schedule", "add", "#1", "--to", "telegram:-100123", "--when", "daily 18:00", "--json")
    )
    assert (added["kind"], added["spec"], added["timezone"], added["draft_id"]) == (
        "cron",
        "0 18 * * *",
        "Europe/Paris",
        1,
    )
    listing = json.loads(run(config, "schedule", "list", "--json"))
    assert [item["status"] for item in listing] == ["active"]
    assert "scheduled" in run(config, "drafts", "show", "1")

    assert "cancelled" in run(config, "schedule", "cancel", "1")
    assert "#1 [approved]" in run(config, "drafts", "show", "1")


def test_errors_are_one_line_with_a_nonzero_exit(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    result = CliRunner().invoke(
        main, ["--config", str(config), "schedule", "add", "hi", "--to", "telegram", "--when", "now"]
    )
    assert result.exit_code == 2
    assert "not a target" in result.output
    result = CliRunner().invoke(main, ["--config", str(config), "drafts", "approve", "9"])
    assert result.exit_code == 2 and "there is no draft #9" in result.output
