"""`socialbot sentiment`, `socialbot insights report` and `socialbot kb gaps` on a real database and models."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from bot.cli.main import main
from bot.store import Store
from tests.bot.insight.conftest import History


def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "socialbot.toml"
    path.write_text(f'[bot]\ndatabase = "{tmp_path / "bot.db"}"\n', encoding="utf-8")
    return path


def test_sentiment_json_prints_one_object_per_argument_in_order(tmp_path: Path) -> None:
    texts = ["I love it, thank you!", "", "This is terrible, I hate it", "Merci, c'est génial"]
    result = CliRunner().invoke(main, ["--config", str(config_file(tmp_path)), "sentiment", "--json", *texts])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert len(rows) == 4
    assert [rows[0]["label"], rows[2]["label"]] == ["positive", "negative"]
    assert rows[3]["language"] == "fr"
    assert all({"label", "scores", "language"} <= set(row) for row in rows)
    assert all(set(row["scores"]) == {"negative", "neutral", "positive"} for row in rows)


def test_sentiment_reads_stdin_lines_when_given_no_arguments(tmp_path: Path) -> None:
    stdin = "what a wonderful day\nworst service ever, I am so angry\n"
    result = CliRunner().invoke(main, ["--config", str(config_file(tmp_path)), "sentiment"], input=stdin)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["positive", "negative"]
    assert lines[1].endswith("worst service ever, I am so angry")


def filled_database(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    history = History(store)
    now = datetime.now(UTC)
    for day in range(1, 6):
        at = now - timedelta(days=day)
        history.message(at, "the new release looks great, well done team", user=f"a{day}", label="positive")
        history.message(at + timedelta(minutes=5), "the release broke my login, it is awful", user=f"b{day}")
        history.message(at + timedelta(minutes=9), "do you ship parcels to Canada?", user=f"c{day}", outcome="declined")
        history.message(at + timedelta(minutes=12), "can I pay with PayPal?", user=f"d{day}", outcome="handoff")
        history.message(at + timedelta(minutes=15), "what time does the shop open?", user=f"e{day}", outcome="answered")
    store.close()


def test_insights_report_writes_html_charts_and_the_same_figures_as_json(tmp_path: Path) -> None:
    filled_database(tmp_path)
    out = tmp_path / "report"
    args = ["--config", str(config_file(tmp_path)), "insights", "report", "--days", "7", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    figures = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert figures["totals"]["messages"] == 25
    assert (figures["totals"]["answered"], figures["totals"]["declined"], figures["totals"]["handoffs"]) == (5, 5, 5)
    assert sum(row["messages"] for row in figures["daily"]["rows"]) == 25
    html = (out / "index.html").read_text(encoding="utf-8")
    for chart in ("activity.png", "sentiment.png", "toxicity.png", "questions.png"):
        assert (out / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f'src="{chart}"' in html
    assert ">25<" in html
    labels = [topic["label"] for topic in figures["topics"]]
    assert any("login" in label for label in labels) and any("paypal" in label for label in labels)
    assert all(topic["size"] == 5 and len(topic["examples"]) == 3 for topic in figures["topics"])
    assert all(topic["new"] for topic in figures["topics"])  # nothing was said in the three weeks before
    assert {gap["count"] for gap in figures["gaps"]} == {5}
    assert "b1" not in html and "a1" not in html  # aggregates only: no member appears


def test_a_topic_said_in_several_languages_is_one_topic_of_the_report(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    history = History(store)
    now = datetime.now(UTC)
    asked = ["can I pay with PayPal?", "puis-je payer avec PayPal ?", "¿puedo pagar con PayPal?"]
    for day in range(1, 3):
        for index, text in enumerate(asked):
            history.message(now - timedelta(days=day, minutes=index), text, user=f"u{day}{index}")
        history.message(now - timedelta(days=day, hours=2), "the weather is lovely at the beach today", user="w")
    store.close()
    out = tmp_path / "report"
    args = ["--config", str(config_file(tmp_path)), "insights", "report", "--days", "7", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    topics = json.loads((out / "report.json").read_text(encoding="utf-8"))["topics"]
    assert len(topics) == 1 and topics[0]["size"] == 6 and "paypal" in topics[0]["label"]


def test_kb_gaps_groups_declined_and_handed_off_questions_with_counts(tmp_path: Path) -> None:
    filled_database(tmp_path)
    result = CliRunner().invoke(main, ["--config", str(config_file(tmp_path)), "kb", "gaps", "--json"])
    assert result.exit_code == 0, result.output
    gaps = [json.loads(line) for line in result.stdout.strip().splitlines()]
    by_label = {gap["label"]: gap for gap in gaps}
    assert set(by_label) == {"do you ship parcels to Canada?", "can I pay with PayPal?"}
    assert by_label["do you ship parcels to Canada?"]["declined"] == 5
    assert by_label["can I pay with PayPal?"]["handoffs"] == 5
    assert len(by_label["can I pay with PayPal?"]["message_ids"]) == 4


def test_insights_show_prints_an_alert_by_the_id_it_was_posted_with(tmp_path: Path) -> None:
    from bot.insight.alerts import NEGATIVE_SPIKE, AlertMonitor
    from bot.insight.settings import InsightSection
    from tests.bot.insight.test_alerts import START, replay_week

    store = Store.open(tmp_path / "bot.db")
    replay_week(store)
    alerts = AlertMonitor(store, InsightSection(), embed=None).check(START + timedelta(days=6, hours=19))
    spike = next(alert for alert in alerts if alert.kind == NEGATIVE_SPIKE)
    store.close()
    base = ["--config", str(config_file(tmp_path)), "insights", "show"]
    result = CliRunner().invoke(main, [*base, str(spike.alert_id), "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["alert_id"], shown["kind"], shown["summary"]) == (spike.alert_id, NEGATIVE_SPIKE, spike.summary)
    assert [row["text"] for row in shown["examples"]] == [example.text for example in spike.examples]
    text = CliRunner().invoke(main, [*base, str(spike.alert_id)])
    assert text.exit_code == 0 and f"#{spike.examples[0].message_id}" in text.stdout
    missing = CliRunner().invoke(main, [*base, "9999"])
    assert missing.exit_code != 0 and "no insight alert 9999" in missing.output


def test_sentiment_speed_by_language_prints_each_languages_cost_batched_and_one_at_a_time(tmp_path: Path) -> None:
    from bot.evaluation.sentiment import LANGUAGES

    samples = ["I love it, thank you!", "This is terrible", "ok then"]
    for folder in LANGUAGES:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "val_text.txt").write_text("\n".join(samples) + "\n", encoding="utf-8")
        (tmp_path / folder / "val_labels.txt").write_text("2\n0\n1\n", encoding="utf-8")
    arguments = ["insights", "sentiment-speed", "--data", str(tmp_path), "--messages", "6", "--by-language"]
    result = CliRunner().invoke(main, [*arguments, "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert list(figures["batched_cpu_ms_by_language"]) == list(LANGUAGES.values())
    assert list(figures["single_cpu_ms_by_language"]) == list(LANGUAGES.values())
    assert figures["messages"] == 6
    text = CliRunner().invoke(main, arguments)
    assert text.exit_code == 0, text.output
    assert "batched CPU-ms/msg by language: ar " in text.stdout
    assert "one at a time CPU-ms/msg by language: ar " in text.stdout


def test_sentiment_of_a_piped_file_is_scored_in_batches_with_the_same_results_in_order(tmp_path: Path) -> None:
    texts = ["what a wonderful day", "worst service ever, I am so angry", "Merci, c'est génial", "ok", "", "meh"] * 12
    config = str(config_file(tmp_path))
    piped = CliRunner().invoke(main, ["--config", config, "sentiment", "--json"], input="\n".join(texts) + "\n")
    one_by_one = CliRunner().invoke(main, ["--config", config, "sentiment", "--json", *texts[:6]])
    assert piped.exit_code == 0 and one_by_one.exit_code == 0, piped.output + one_by_one.output
    rows = [json.loads(line) for line in piped.stdout.strip().splitlines()]
    assert len(rows) == len(texts)  # 72 lines: two model passes of 64 and 8
    expected = [json.loads(line) for line in one_by_one.stdout.strip().splitlines()]
    for index, row in enumerate(rows):
        assert row["label"] == expected[index % 6]["label"] and row["language"] == expected[index % 6]["language"]
        for name, value in row["scores"].items():
            assert abs(value - expected[index % 6]["scores"][name]) < 1e-4
