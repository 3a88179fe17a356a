"""`socialbot bench start` measures real starts in fresh processes and prints every part."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli.main import main


@pytest.mark.model
@pytest.mark.slow
def test_bench_start_reports_ready_engine_ready_and_first_reply_with_their_parts(tmp_path: Path) -> None:
    config = tmp_path / "socialbot.toml"
    config.write_text("[generation]\nmax_new_tokens = 8\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "bench", "start", "--runs", "1", "--no-cold", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    (run,) = report["runs"]
    assert run["kind"] == "warm" and run["model_source"] == "cache" and run["model_class"] == "DirectLlamaForCausalLM"
    # The prompt shows before the bot is built, the bot is built before it has started, and the line typed at
    # the prompt is answered once the start is over.
    assert 0 < run["ready_s"] <= run["built_s"] <= run["engine_ready_s"] <= run["first_reply_s"]
    assert run["model_loaded_s"] <= run["engine_ready_s"] and run["classifiers_done_s"] <= run["first_reply_s"]
    assert {"imports.cli", "build (store, features)", "model", "classifiers", "engine+features start"} <= set(
        run["parts"]
    )
    assert len(report["ask_cli_s"]) == 1 and report["ask_cli_s"][0] > 0 and report["help_cli_s"] > 0
    # `ask` with no bot running, by question: each says what it loaded; only the model question loads the model.
    small_talk, kb, model = report["ask_cases"]
    assert [case["label"] for case in report["ask_cases"]] == ["given question", "KB question", "model question"]
    assert all(case["reply"] and case["median_s"] > 0 for case in report["ask_cases"])
    assert "model" not in small_talk["loaded"] and "classifiers (numpy MiniLM)" in small_talk["loaded"]
    assert "torch" not in small_talk["loaded"] and "torch" not in kb["loaded"]
    assert "KB encoder (MiniLM)" in kb["loaded"] and "4.95" in kb["reply"]
    assert "sentence-transformers" not in kb["loaded"]
    assert "model" in model["loaded"]
    # A real `socialbot run` connected to the loopback Bot API, answered the message handed to it, got ready,
    # and answered a `socialbot ask` process through its control socket.
    (service,) = report["services"]
    assert 0 < service["connected_s"] < service["first_reply_s"] and service["ready_s"] > service["connected_s"]
    assert service["reply_text"] and service["connected_cpu_s"] > 0
    assert len(service["ask_s"]) == 1 and report["ask_via_bot_median_s"] == service["ask_s"][0]
    assert report["warm_median"]["ready_s"] == run["ready_s"]
    assert not (tmp_path / "var").exists()  # the benchmark's database is a temporary one


def test_the_report_prints_every_part_and_moment_and_the_load_average() -> None:
    from bot.ops.startbench import MOMENTS, PART_ORDER, AskCase, ServiceRun, StartReport, StartRun, format_report

    run = StartRun(
        "warm", 0.7, 2.5, 4.0, 3.5, 5.0, 6.0, {"model": 3.1, "imports.cli": 0.4}, {"model": 1.2}, "cache", "X"
    )
    services = [
        ServiceRun(1.25, 6.5, 6.25, 1.1, ask_s=[0.55, 0.65], ask_cpu_s=[0.4, 0.5]),
        ServiceRun(1.75, 7.5, 7.25, 1.3, ask_s=[0.75], ask_cpu_s=[0.45]),
    ]
    report = StartReport(
        runs=[run],
        ask_cli_s=[6.5, 7.0],
        help_cli_s=0.3,
        load_average=(1.0, 2.0, 3.0),
        services=services,
        load_average_before=(0.5, 1.5, 2.5),
        ask_cases=[
            AskCase("given question", "hi", [6.5, 7.0], [2.0, 2.2], ["classifiers (numpy MiniLM)"], "Hello!"),
            AskCase(
                "model question",
                "Write one word",
                [9.0],
                [4.0],
                ["classifiers (numpy MiniLM)", "torch", "model"],
                "Sea.",
            ),
        ],
    )
    text = format_report(report)
    for name in PART_ORDER:
        assert name in text
    for label, _ in MOMENTS:
        assert label in text
    assert "6.75" in text and "(runs: 6.50, 7.00)" in text  # the median of the `ask` processes, and each
    assert "platforms connected (getUpdates)" in text and "1.50   (runs: 1.25, 1.75)" in text
    assert "`socialbot ask`, bot running" in text and "0.65   (runs: 0.55, 0.65, 0.75)" in text
    assert "model question 'Write one word'" in text and "CPU 4.00   (runs: 9.00)" in text
    assert "loaded: classifiers (numpy MiniLM), torch, model" in text
    assert "before measuring: 0.5, 1.5, 2.5" in text and "after measuring: 1.0, 2.0, 3.0" in text
