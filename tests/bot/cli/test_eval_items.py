"""`eval conversation --items FILE`: only that file's items, each of its splits, and errors that name file and line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bot.cli.main import main


def _line(item_id: int, split: str, text: str) -> str:
    row = {
        "id": item_id,
        "split": split,
        "category": "no_kb",
        "language": "en",
        "kb": "none",
        "text": text,
        "must_contain": [],
        "before": [],
    }
    return json.dumps(row)


def test_items_file_is_run_alone_with_figures_for_each_of_its_splits(tmp_path: Path) -> None:
    items = tmp_path / "stranger.jsonl"
    items.write_text(
        _line(1, "s1", "How much does delivery cost?") + "\n" + _line(2, "s2", "Do you sell gift cards?") + "\n"
    )
    result = CliRunner().invoke(main, ["eval", "conversation", "--items", str(items), "--no-model", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{") :])
    assert sorted(report["conversation"]) == ["s1", "s2"]
    assert "kb_sets" not in report


def test_malformed_items_line_is_reported_with_file_and_line(tmp_path: Path) -> None:
    items = tmp_path / "broken.jsonl"
    items.write_text(_line(1, "s1", "hi") + "\n" + '{"id": 2, "text": "no split"}\n')
    result = CliRunner().invoke(main, ["eval", "conversation", "--items", str(items), "--no-model"])
    assert result.exit_code != 0
    assert f"{items}:2:" in result.output
