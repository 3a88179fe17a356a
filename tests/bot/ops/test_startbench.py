"""`socialbot bench start` measures real starts in fresh processes and prints every part."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli.main import main


@pytest.mark.model
@pytest.mark.slow
def test_bench_start_reports_ready_and_ask_times_with_their_parts(tmp_path: Path) -> None:
    config = tmp_path / "socialbot.toml"
    config.write_text("[generation]\nmax_new_tokens = 8\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "bench", "start", "--runs", "1", "--no-cold", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    (run,) = report["runs"]
    assert run["kind"] == "warm" and run["model_source"] == "cache"
    assert 0 < run["ready_s"] <= run["ask_s"]
    assert {"imports.cli", "model", "classifiers", "store+features", "reply"} <= set(run["parts"])
    assert report["ask_cli_s"] > 0
    assert not (tmp_path / "var").exists()  # the benchmark's database is a temporary one
