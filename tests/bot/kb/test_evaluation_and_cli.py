"""`socialbot eval kb` figures (without the model) and the `kb` / `tickets` commands."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bot.app import BotApp
from bot.cli.main import main
from bot.evaluation.kb import format_kb_eval, load_questions, run_kb_eval

EVAL = Path(__file__).resolve().parents[3] / "eval" / "kb"


def test_the_shipped_evaluation_set_is_large_and_well_formed() -> None:
    questions = load_questions(EVAL / "questions.jsonl")
    documents = {path.name for path in (EVAL / "shop").iterdir()}
    assert len(questions) >= 150
    assert 20 <= len(documents) <= 40 and {"faq.csv", "faq.json"} <= documents
    assert {q.type for q in questions} == {"answerable", "paraphrase", "out_of_scope"}
    for question in questions:
        assert set(question.expected_docs) <= documents
        assert bool(question.expected_docs) == question.in_scope


async def test_a_smoke_evaluation_reports_every_figure(app: BotApp) -> None:
    figures = await run_kb_eval(app, EVAL / "questions.jsonl", limit=8, use_model=False, split="all")
    for key in ("hit_at_1", "hit_at_3", "answer_accuracy", "decline_precision", "decline_recall", "latency_ms_p50"):
        assert 0.0 <= figures[key] <= (1.0 if key != "latency_ms_p50" else 60_000.0)
    assert figures["questions"] == 8
    assert figures["thresholds"]["answerability_judge"] is True  # the shipped judge took part
    assert "retrieval hit@3" in format_kb_eval(figures)


def test_kb_and_tickets_commands(tmp_path: Path, fixtures_dir: Path) -> None:
    config = tmp_path / "socialbot.toml"
    config.write_text('[bot]\ndatabase = "bot.db"\n', encoding="utf-8")
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(main, ["--config", str(config), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    assert "5 files" in run("kb", "add", str(fixtures_dir))
    assert "0 passages embedded" in run("kb", "add", str(fixtures_dir / "returns.md"))
    listed = json.loads(run("kb", "list", "--json"))
    assert len(listed) == 5
    hits = json.loads(run("kb", "search", "gift wrapping price", "--json"))
    assert hits[0]["faq"] is True and hits[0]["score"] >= hits[-1]["score"]
    assert "removed" in run("kb", "remove", str(listed[0]["id"]))
    assert "No open tickets." in run("tickets", "list")
    failed = runner.invoke(main, ["--config", str(config), "tickets", "close", "3"])
    assert failed.exit_code == 1 and "no ticket #3" in failed.output
