"""The insight feature in a running bot: every console message gets its sentiment and offensive score stored by
the background worker (real sentiment model, real moderation classifier), `/insights` answers admins in
aggregate, and `/forgetme` takes the member's rows with it."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from adapters.console import ConsoleAdapter
from bot.app import BotApp
from bot.config import load_config
from bot.engine.fake import ScriptedEngine
from bot.insight.feature import InsightFeature
from bot.insight.repository import InsightRepository
from tests.support import build_test_app, incoming, write_config


def insight(app: BotApp) -> InsightFeature:
    return next(feature for feature in app.features if isinstance(feature, InsightFeature))


async def wait_for_scores(app: BotApp, count: int) -> list[dict[str, object]]:
    for _ in range(300):  # bounded: the worker polls every few seconds and scores in a thread
        rows = list(app.store.db.query("select * from insight_sentiment order by message_id"))
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"only {len(rows)} of {count} messages were scored")


@pytest.mark.slow
async def test_console_messages_are_scored_in_the_background_with_the_real_models(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path), environ={})
    engine = ScriptedEngine()
    engine.enqueue("Glad you like it!", "Sorry to hear that.", "Noted.")
    app = BotApp.build(config, engine=engine)  # the real moderation gate and the real sentiment model
    await app.start()
    try:
        output = io.StringIO()
        lines = "I love this community, you are all wonderful!\nThis is the worst update ever, I hate it\n"
        lines += "you are a stupid idiot\n"
        console = ConsoleAdapter(app, io.StringIO(lines), output, user_name="ann")
        await console.start()
        assert await console.run() == 3
        rows = await wait_for_scores(app, 3)
        assert [row["label"] for row in rows[:2]] == ["positive", "negative"]
        assert all(row["language"] == "en" and row["offensive"] is not None for row in rows)
        assert float(rows[2]["offensive"]) > float(rows[0]["offensive"])  # type: ignore[arg-type]

        report = io.StringIO()
        admin = ConsoleAdapter(app, io.StringIO("/insights 7\n"), report, user_name="ann")
        await admin.run()
        text = report.getvalue()
        assert "3 messages from 1 members" in text and "negative" in text

        forget = ConsoleAdapter(app, io.StringIO("/forgetme\n"), io.StringIO(), user_name="ann")
        await forget.run()
        assert app.store.db.execute("select count(*) from insight_sentiment").fetchone()[0] == 0
    finally:
        await app.stop()


async def test_insights_is_refused_to_members_who_are_not_admins(tmp_path: Path) -> None:
    app = build_test_app(tmp_path, engine=ScriptedEngine())
    await app.start()
    try:
        replies = await app.manager.handle(incoming("/insights 7", is_admin=False))
        assert replies[0].text == "Only admins can use /insights."
        replies = await app.manager.handle(incoming("/insights lots", is_admin=True))
        assert replies[0].text.startswith("Usage: /insights [days]")
    finally:
        await app.stop()


async def test_forget_and_export_cover_only_that_member(tmp_path: Path) -> None:
    app = build_test_app(tmp_path, engine=ScriptedEngine())
    feature = insight(app)
    feature.run_worker = False
    await app.start()
    try:
        await app.manager.handle(
            incoming("thank you so much, I love it, this is great!", user_id="ann", is_direct=False)
        )
        await app.manager.handle(incoming("this is awful", user_id="bob", is_direct=False))
        assert await feature.score_now() == 2
        exported = feature.export_user("console", "ann")
        assert [row["label"] for row in exported] == ["positive"]
        assert set(exported[0]) >= {"message_id", "created_at", "label", "negative", "neutral", "positive"}
        replies = await app.manager.handle(incoming("/forgetme", user_id="ann"))
        assert replies[0].text.startswith("Deleted ")
        assert feature.export_user("console", "ann") == []
        assert len(feature.export_user("console", "bob")) == 1
        assert await feature.score_now() == 0  # nothing left to score, nothing rescored
        assert InsightRepository(app.store).unscored() == []
    finally:
        await app.stop()


async def test_alerts_are_posted_to_the_staff_chat_once(tmp_path: Path) -> None:
    from datetime import timedelta

    from bot.store import Store
    from tests.bot.insight.test_alerts import START, replay_week

    replay_week(Store.open(tmp_path / "bot.db"))
    staff = '[insight]\nstaff_platform = "console"\nstaff_chat_id = "staff-room"\n'
    app = build_test_app(tmp_path, engine=ScriptedEngine(), config_text=staff)
    feature = insight(app)
    feature.run_worker = False
    feature.monitor.embed = None  # type: ignore[union-attr]  # the question burst has its own test
    feature.now = lambda: START + timedelta(days=6, hours=19)
    await app.start()
    try:
        output = io.StringIO()
        console = ConsoleAdapter(app, io.StringIO(""), output)
        await console.start()
        alerts = await feature.check_alerts()
        assert {alert.kind for alert in alerts} == {"negative_spike", "toxicity_surge", "unanswered_questions"}
        posted = output.getvalue()
        assert posted.count("[console:staff-room] [insight] telegram:chat-1:") == 3
        assert "#" in posted and "toxicity surge" in posted
        assert await feature.check_alerts() == []  # rate-limited: nothing posted twice
        assert output.getvalue() == posted
    finally:
        await app.stop()


async def test_the_weekly_summary_is_posted_to_the_staff_chat_once_per_slot(tmp_path: Path) -> None:
    from datetime import timedelta

    from bot.store import Store
    from tests.bot.insight.test_alerts import START, replay_week

    replay_week(Store.open(tmp_path / "bot.db"))
    staff = '[insight]\nstaff_platform = "console"\nstaff_chat_id = "staff-room"\nweekly_report = "mon 09:00"\n'
    app = build_test_app(tmp_path, engine=ScriptedEngine(), config_text=staff)
    feature = insight(app)
    feature.run_worker = False
    monday = START + timedelta(days=7, hours=9, minutes=10)
    feature.now = lambda: monday
    await app.start()
    try:
        output = io.StringIO()
        await ConsoleAdapter(app, io.StringIO(""), output).start()
        assert await feature.post_weekly_report() is True
        assert await feature.post_weekly_report() is False
        posted = output.getvalue()
        assert posted.startswith("[console:staff-room] Weekly insights for the last 7 day(s):")
        assert "telegram:chat-1:" in posted and "members" in posted
        feature.now = lambda: monday + timedelta(days=6)
        assert await feature.post_weekly_report() is False  # next slot not reached; the old one is past its grace
    finally:
        await app.stop()


def test_weekly_slots_and_a_bad_weekly_time_in_the_config(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from bot.config import ConfigError
    from bot.insight.commands import last_weekly_slot

    wednesday = datetime(2026, 11, 4, 12, tzinfo=UTC)
    assert last_weekly_slot("mon 09:00", wednesday) == datetime(2026, 11, 2, 9, tzinfo=UTC)
    assert last_weekly_slot("wed 13:00", wednesday) == datetime(2026, 10, 28, 13, tzinfo=UTC)
    assert last_weekly_slot("", wednesday) is None
    with pytest.raises(ConfigError, match=r"insight\.weekly_report"):
        load_config(write_config(tmp_path, '[insight]\nweekly_report = "monday 9am"\n'), environ={})
