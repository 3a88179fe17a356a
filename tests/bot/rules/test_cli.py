"""`socialbot rules ...` and `socialbot mute`: the operator manages rules; export/import round-trips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from bot import audit
from bot.cli.main import main
from bot.store import Store


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "socialbot.toml"
    path.write_text('[bot]\ndatabase = "bot.db"\n', encoding="utf-8")
    return path


def without_ids(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: value for key, value in rule.items() if key != "id"} for rule in rules]


def run(config_path: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--config", str(config_path), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_add_list_edit_test_disable_delete(config_path: Path) -> None:
    assert "added #1" in run(config_path, "rules", "add", 'keyword "opening hours" -> We are open 9-17.')
    run(
        config_path,
        "rules",
        "add",
        "--platform",
        "telegram",
        "--chat",
        "42",
        r"regex priority=3 ^order\s+(?P<id>\d+) -> Order {id} shipped.",
    )
    listed = json.loads(run(config_path, "rules", "list", "--json"))
    assert [rule["id"] for rule in listed] == [2, 1]
    assert listed[0]["chats"] == ["42"] and listed[0]["platform"] == "telegram"
    tested = json.loads(
        run(config_path, "rules", "test", "--platform", "telegram", "--chat", "42", "--json", "order 7")
    )
    assert tested["rule"] == 2 and tested["answer"] == "Order 7 shipped."
    assert "no rule would answer" in run(config_path, "rules", "test", "order 7")  # other chat: out of scope
    run(config_path, "rules", "edit", "1", "priority=9 -> Open 8-18.")
    assert "Open 8-18." in run(config_path, "rules", "show", "1")
    run(config_path, "rules", "disable", "1")
    assert json.loads(run(config_path, "rules", "show", "1", "--json"))["enabled"] is False
    run(config_path, "rules", "delete", "1")
    result = CliRunner().invoke(main, ["--config", str(config_path), "rules", "show", "1"])
    assert result.exit_code == 2 and "there is no rule #1" in result.output
    store = Store.open(config_path.parent / "bot.db")
    assert {entry.actor for entry in audit.recent(store)} == {"cli"}
    store.close()


def test_bad_rules_are_refused_with_the_reason(config_path: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(config_path), "rules", "add", r"regex (a)\1 -> x"])
    assert result.exit_code == 2
    assert "rule not added: this regex can't be used" in result.output


@pytest.mark.parametrize("suffix", ["yaml", "json"])
def test_export_then_import_round_trips(config_path: Path, tmp_path: Path, suffix: str) -> None:
    run(config_path, "rules", "add", 'keyword match=all "gift card" balance -> Check the card\'s back: {user}.')
    run(config_path, "rules", "add", "--platform", "discord", r"regex cooldown=5m ^ticket\s+(\d+) -> Ticket {1}.")
    run(
        config_path,
        "rules",
        "add",
        'similar threshold=0.8 "how do I reset my password" "forgot password" -> Settings > Account > Reset.',
    )
    run(config_path, "rules", "disable", "3")
    exported = tmp_path / f"rules.{suffix}"
    run(config_path, "rules", "export", str(exported))
    first = json.loads(run(config_path, "rules", "list", "--json"))
    run(config_path, "rules", "import", "--replace", str(exported))
    second = json.loads(run(config_path, "rules", "list", "--json"))
    assert without_ids(second) == without_ids(first)
    again = tmp_path / f"again.{suffix}"
    run(config_path, "rules", "export", str(again))
    loader = json.loads if suffix == "json" else yaml.safe_load
    assert without_ids(loader(again.read_text())["rules"]) == without_ids(loader(exported.read_text())["rules"])


def test_import_is_all_or_nothing_and_names_the_bad_rule(config_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "rules:\n- {trigger: keyword, patterns: [hi], response: hello}\n"
        "- {trigger: regex, patterns: ['(?=x)'], response: x}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["--config", str(config_path), "rules", "import", str(path)])
    assert result.exit_code == 2 and "rule 2: this regex can't be used" in result.output
    assert json.loads(run(config_path, "rules", "list", "--json")) == []


def test_operator_mutes_and_unmutes(config_path: Path) -> None:
    run(config_path, "mute", "telegram", "99", "--minutes", "30")
    assert "telegram:99" in run(config_path, "mutes")
    run(config_path, "unmute", "telegram", "99")
    assert run(config_path, "mutes") == ""
