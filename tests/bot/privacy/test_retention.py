"""Retention on a manual clock: exactly the rows past their limit go (or lose their words), space comes back.

The database is filled with rows dated relative to a fixed "now" (messages, moderation decisions, tickets,
audit entries, event bookkeeping, remembered facts), then the daily job runs at several manual-clock times.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app import BotApp
from bot.audit import recent
from bot.engine.fake import ScriptedEngine
from bot.privacy.feature import RETENTION_JOB_ID, PrivacyFeature
from bot.scheduling.clock import ManualClock
from bot.store import Store
from tests.support import build_test_app

NOW = datetime.now(UTC)  # audit entries the job writes are dated by the real clock
CONFIG = "[privacy]\nmessages_days = 30\nmoderation_days = 90\ntickets_days = 60\nlogs_days = 120\nmemory_days = 365\n"


def _at(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat()


def _fill(store: Store) -> dict[str, int]:
    db = store.db
    db.execute("insert into users (id, platform, platform_user_id) values (1, 'telegram', '100')")
    db.execute("insert into conversations (id, platform, chat_id, thread_id) values (1, 'telegram', '100', '')")
    ids: dict[str, int] = {}
    for name, days, status, text in [
        ("fresh", 5, "answered", "fresh message"),
        ("old", 40, "answered", "old message with my order 4451 " + "x" * 200_000),
        ("old_flagged", 40, "answered", "old flagged message"),
        ("ancient_flagged", 100, "answered", "ancient flagged message"),
        ("owed", 40, "pending_send", "an owed reply"),
    ]:
        cursor = db.execute(
            "insert into messages (conversation_id, user_id, role, text, created_at, status) values (1, 1, ?, ?, ?, ?)",
            ["assistant" if status == "pending_send" else "user", text, _at(days), status],
        )
        ids[name] = int(cursor.lastrowid or 0)
    for message, days in [("old_flagged", 40), ("ancient_flagged", 100)]:
        db.execute(
            "insert into moderation_decisions (message_id, direction, decision, created_at) "
            "values (?, 'in', 'flag', ?)",
            [ids[message], _at(days)],
        )
    for status, closed in [("closed", 70), ("closed", 10), ("open", None)]:
        db.execute(
            "insert into tickets (conversation_id, user_id, status, opened_at, closed_at) values (1, 1, ?, ?, ?)",
            [status, _at(200), _at(closed) if closed is not None else None],
        )
    for days in (130, 20):
        db.execute(
            "insert into audit_log (actor, action, target, created_at) values ('cli', 'rules.add', '', ?)", [_at(days)]
        )
        db.execute("insert into processed_events values ('telegram', ?, ?)", [f"e{days}", _at(days)])
    for kind, days, source in [("name", 400, ids["fresh"]), ("order_number", 40, ids["old"])]:
        db.execute(
            "insert into memory_facts (platform, platform_user_id, community, kind, value, source_message_id, "
            "source_text, created_at) values ('telegram', '100', '100', ?, 'v', ?, 'quoted words', ?)",
            [kind, source, _at(days)],
        )
    lines = [{"m": ids["old"], "u": 1, "t": "my order 4451"}, {"m": ids["fresh"], "u": 1, "t": "fresh message"}]
    db.execute("insert into memory_summaries values (1, ?, ?, ?)", [ids["fresh"], json.dumps(lines), _at(1)])
    db.conn.commit()
    return ids


async def _feature(tmp_path: Path, clock: ManualClock) -> tuple[BotApp, PrivacyFeature]:
    feature = PrivacyFeature(clock=clock)
    app = build_test_app(tmp_path, engine=ScriptedEngine(), config_text=CONFIG, features=[feature])
    await app.start()
    return app, feature


async def test_the_daily_job_removes_exactly_what_is_due_and_reclaims_the_space(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    app, feature = await _feature(tmp_path, clock)
    try:
        ids = _fill(app.store)
        report = await feature.run_retention()
        db = app.store.db
        assert report.removed == {
            "moderation_decisions": 1,  # the 100-day-old one (limit 90)
            "messages": 2,  # the 40-day-old plain one and the 100-day-old one whose decision went
            "tickets": 1,  # closed 70 days ago (limit 60); the one closed 10 days ago and the open one stay
            "audit_log": 1,
            "processed_events": 1,  # 130 days (limit 120)
            "memory_facts": 1,  # stated 400 days ago (limit 365)
        }
        assert report.anonymised == {"messages": 1, "memory_summaries": 1, "memory_facts": 1}
        remaining = {row[0]: (row[1], row[2]) for row in db.execute("select id, text, user_id from messages")}
        assert remaining == {
            ids["fresh"]: ("fresh message", 1),
            ids["old_flagged"]: ("", None),  # its moderation decision (40 days) is kept, the words are not
            ids["owed"]: ("an owed reply", 1),  # still owed to the platform: never removed
        }
        assert [row[0] for row in db.execute("select status from tickets order by id")] == ["closed", "open"]
        lines = json.loads(db.execute("select lines from memory_summaries").fetchone()[0])
        assert [line["t"] for line in lines] == ["fresh message"]
        assert db.execute("select source_text from memory_facts").fetchall() == [("",)]
        assert report.bytes_after < report.bytes_before - 150_000  # the 200 kB message's pages came back
        entry = recent(app.store, action_prefix="privacy.retention")[0]
        assert entry.after["removed"]["messages"] == 2

        assert (await feature.run_retention()).total == 0  # a second run the same day finds nothing
        clock.advance(timedelta(days=60))
        later = await feature.run_retention()
        assert later.removed["moderation_decisions"] == 1 and later.removed["messages"] == 2
        assert later.removed["tickets"] == 1
    finally:
        await app.stop()


async def test_zero_days_keeps_everything(tmp_path: Path) -> None:
    feature = PrivacyFeature(clock=ManualClock(NOW + timedelta(days=3650)))
    zero = "[privacy]\nmessages_days = 0\nmoderation_days = 0\ntickets_days = 0\nlogs_days = 0\n"
    app = build_test_app(tmp_path, engine=ScriptedEngine(), config_text=zero, features=[feature])
    await app.start()
    try:
        _fill(app.store)
        assert (await feature.run_retention()).total == 0
    finally:
        await app.stop()


async def test_the_job_is_scheduled_daily_at_the_configured_hour(tmp_path: Path) -> None:
    app, feature = await _feature(tmp_path, ManualClock(NOW))
    try:
        assert feature._scheduler is not None
        job = feature._scheduler.get_job(RETENTION_JOB_ID)
        assert job is not None and job.next_run_time.hour == 3
    finally:
        await app.stop()


def test_the_owner_previews_and_applies_retention_from_the_command_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from bot.cli.main import main
    from tests.support import write_config

    config = str(write_config(tmp_path, CONFIG))
    store = Store.open(tmp_path / "bot.db")
    _fill(store)
    store.close()
    runner = CliRunner()
    preview = runner.invoke(main, ["--config", config, "privacy", "retention", "--dry-run", "--json"])
    assert preview.exit_code == 0, preview.output
    assert json.loads(preview.output.splitlines()[-1])["removed"]["messages"] == 2
    applied = runner.invoke(main, ["--config", config, "privacy", "retention"])
    assert applied.exit_code == 0 and "2 messages" in applied.output
    again = runner.invoke(main, ["--config", config, "privacy", "retention"])
    assert "nothing was due" in again.output
