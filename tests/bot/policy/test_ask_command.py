"""`socialbot ask`: a fresh conversation per call unless --chat-id, and JSON lines on stdin answered in order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli.main import main  # first: cli.ask_cmd is loaded by it
from tests.bot.policy.conftest import POLICY_ON
from tests.support import write_config


def test_json_lines_become_requests_and_a_bad_line_an_error_naming_it() -> None:
    from bot.cli.ask_cmd import AskRequest, read_requests

    lines = ['{"text": "hi"}', "", '{"chat": "c1", "user": "lena", "text": "hola"}', "not json", '{"chat": "c1"}']
    requests = list(read_requests(iter(lines), chat_id=None))
    first, second, bad_json, no_text = requests
    assert isinstance(first, AskRequest) and first.chat_id.startswith("ask-") and first.user == "operator"
    assert second == AskRequest("c1", "lena", "hola")
    assert isinstance(bad_json, str) and bad_json.startswith("line 4: not JSON")
    assert no_text == "line 5: expected an object with a string 'text'"
    pinned = list(read_requests(iter(['{"text": "a"}', '{"text": "b"}']), chat_id="mine"))
    assert [request.chat_id for request in pinned if isinstance(request, AskRequest)] == ["mine", "mine"]


def test_ask_without_text_needs_json_mode(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(write_config(tmp_path)), "ask"])
    assert result.exit_code == 2 and "JSON lines on stdin" in result.output


@pytest.mark.model
def test_ask_json_reads_lines_and_answers_each_in_order_with_the_model_loaded_once(tmp_path: Path) -> None:
    config = write_config(tmp_path, POLICY_ON + "[generation]\nmax_new_tokens = 24\n")
    lines = [
        {"text": "hi"},
        {"chat": "c1", "user": "lena", "text": "How much does delivery cost?"},
        {"chat": "c1", "user": "lena", "text": "¿Y cuánto cuesta el envío a Madrid?"},
        {"text": "Tell me something nice about the weather."},
        "not json",
    ]
    stdin = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    result = CliRunner().invoke(main, ["--config", str(config), "ask", "--json"], input=stdin)
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert len(answers) == 5
    greeting, decline, spanish, other, error = answers
    assert greeting["source"] == "policy:small_talk" and greeting["language"] == "en"
    assert decline["source"] == "policy:no_kb" and "I don't know" in decline["reply"] and decline["chat"] == "c1"
    assert spanish["language"] == "es" and "no lo sé" in spanish["reply"]
    assert other["source"] in ("policy:model", "policy:cannot_help")  # the real model's reply passed the checks
    assert other["chat"] != greeting["chat"] and other["chat"].startswith("ask-")  # a fresh conversation each
    for answer in answers[:4]:
        assert {"reply", "decision", "reasons", "scores", "source", "outcome", "sources", "details", "language"} <= set(
            answer
        )
    assert error == {"error": "line 5: not JSON (Expecting value: line 1 column 1 (char 0))"}
    assert result.stderr.count("loading model") == 1
