"""The command line: config errors in one line, `moderate --json` one object per input line in order."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bot.cli.main import main


def test_config_check_accepts_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text("[bot]\nname = 'Shopbot'\n")
    result = CliRunner().invoke(main, ["--config", str(path), "config", "check", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["ok"] is True


def test_config_check_reports_file_key_and_reason_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[generation]\ntemperature = 'hot'\n")
    result = CliRunner().invoke(main, ["--config", str(path), "config", "check"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"config error: {path}: generation.temperature: ")


def test_config_error_never_echoes_a_token(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("telegram_bot_token = 123456\n")  # wrong type, must not be printed back
    result = CliRunner().invoke(main, ["--secrets", str(secrets), "config", "check"])
    assert result.exit_code == 2
    assert "123456" not in result.output


def test_moderate_json_prints_one_object_per_stdin_line_in_order(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[moderation]\nclassifier = 'none'\nharm_check = false\nblocklist = ['forbidden']\n")
    stdin = "hello there\nthis is forbidden\nmail me at a@b.co\n"
    result = CliRunner().invoke(main, ["--config", str(path), "moderate", "--json"], input=stdin)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [row["decision"] for row in rows] == ["allow", "block", "redact"]
    assert rows[2]["text"] == "mail me at [email removed]"
    assert set(rows[0]) == {"decision", "reasons", "scores", "language", "judged_by", "text"}


def test_eval_moderation_json_on_a_small_fixture() -> None:
    fixtures = Path(__file__).resolve().parents[1] / "moderation" / "fixtures"
    data = next(path for path in sorted(fixtures.iterdir()) if "offensive" in path.name or "olid" in path.name)
    result = CliRunner().invoke(main, ["eval", "moderation", "--data", str(data), "--fixture", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"macro_f1", "f1_offensive", "latency_ms_p50", "harm_recall", "harm_false_block_rate"} <= set(report)
    assert 0.0 <= report["macro_f1"] <= 1.0
