"""/export, /forgetme and `socialbot privacy export|forget` through the real manager, store and CLI."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bot import audit
from bot.app import BotApp
from bot.cli.main import main
from bot.engine.fake import ScriptedEngine
from tests.support import build_test_app, incoming, write_config

NO_LIMITS = "[rules]\nuser_capacity = 0\nchat_capacity = 0\n"


async def _app(tmp_path: Path, engine: ScriptedEngine | None = None) -> BotApp:
    app = build_test_app(tmp_path, engine=engine or ScriptedEngine(), config_text=NO_LIMITS)
    await app.start()
    return app


async def _history(app: BotApp) -> None:
    """Anna talks in a DM and a group, states facts and opens a ticket; Bob talks in the group."""
    for text in ("My name is Anna", "My order number is A-12345", "where is my parcel"):
        await app.manager.handle(incoming(text, platform="telegram", chat_id="100", user_id="100"))
    await app.manager.handle(
        incoming("I prefer email", platform="telegram", chat_id="-5", user_id="100", is_direct=False, mentions_bot=True)
    )
    await app.manager.handle(incoming("/human my parcel is lost", platform="telegram", chat_id="100", user_id="100"))
    await app.manager.handle(
        incoming("My name is Bob", platform="telegram", chat_id="-5", user_id="200", is_direct=False, mentions_bot=True)
    )


async def test_export_in_a_private_chat_sends_everything_stored_as_a_json_document(tmp_path: Path) -> None:
    app = await _app(tmp_path)
    try:
        await _history(app)
        replies = await app.manager.handle(incoming("/export", platform="telegram", chat_id="100", user_id="100"))
        assert len(replies) == 1 and replies[0].document is not None
        document = replies[0].document
        assert document.filename == "socialbot-export-telegram-100.json"
        exported = json.loads(document.data)
        assert exported["member"] == {"platform": "telegram", "user": "100"}
        texts = [row["text"] for row in exported["tables"]["messages"]]
        assert "My order number is A-12345" in texts and "I prefer email" in texts
        assert "My name is Bob" not in json.dumps(exported)
        assert {row["value"] for row in exported["tables"]["memory_facts"]} == {"Anna", "A-12345", "email"}
        assert len(exported["tables"]["tickets"]) == 1
        assert exported["tables"]["moderation_decisions"]
        assert exported["on_forget"]["mutes"].startswith("keep")
        assert audit.recent(app.store, action_prefix="privacy.export")[0].actor == "telegram:100"
    finally:
        await app.stop()


async def test_export_in_a_group_is_refused_and_sends_nothing_private(tmp_path: Path) -> None:
    app = await _app(tmp_path)
    try:
        await _history(app)
        replies = await app.manager.handle(
            incoming("/export", platform="telegram", chat_id="-5", user_id="100", is_direct=False, mentions_bot=True)
        )
        assert [reply.document for reply in replies] == [None]
        assert "private chat" in replies[0].text
    finally:
        await app.stop()


async def test_forgetme_removes_messages_replies_memory_tickets_and_cached_keys_everywhere(tmp_path: Path) -> None:
    engine = ScriptedEngine()
    app = await _app(tmp_path, engine)
    try:
        await _history(app)
        await app.manager.handle(incoming("/forgetme", platform="telegram", chat_id="100", user_id="100"))
        db = app.store.db
        assert db.execute("select count(*) from memory_facts where platform_user_id = '100'").fetchone()[0] == 0
        assert db.execute("select count(*) from tickets").fetchone()[0] == 0
        assert db.execute("select count(*) from messages where text like '%A-12345%'").fetchone()[0] == 0
        assert db.execute("select count(*) from users where platform_user_id = '100'").fetchone()[0] == 0
        assert {"telegram:100:", "telegram:-5:"} <= set(engine.forgotten)
        assert db.execute("select count(*) from memory_facts where platform_user_id = '200'").fetchone()[0] == 1
        assert audit.recent(app.store, action_prefix="privacy.forget")[0].target == "deleted-user"
    finally:
        await app.stop()


async def test_the_owner_exports_and_forgets_a_member_from_the_command_line(tmp_path: Path) -> None:
    app = await _app(tmp_path)
    await _history(app)
    await app.stop()
    config = str(write_config(tmp_path, NO_LIMITS))
    out = tmp_path / "export.json"
    runner = CliRunner()

    exported = runner.invoke(main, ["--config", config, "privacy", "export", "telegram:100", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert "memory_facts: 3" in exported.output
    assert json.loads(out.read_text(encoding="utf-8"))["tables"]["users"][0]["platform_user_id"] == "100"

    forgot = runner.invoke(main, ["--config", config, "privacy", "forget", "telegram:100", "--json"])
    assert forgot.exit_code == 0, forgot.output
    report = json.loads(forgot.output)
    # The features' hooks run first (memory forgets the facts), then the registry (the user row, messages...).
    assert report["changed"]["users"] == 1 and report["features"]["memory"] >= 3

    again = runner.invoke(main, ["--config", config, "privacy", "export", "telegram:100", "--out", str(out), "--json"])
    assert json.loads(again.output)["rows"] == {}
    bad = runner.invoke(main, ["--config", config, "privacy", "forget", "nobody", "--yes"])
    assert bad.exit_code == 2 and "PLATFORM:USER" in bad.output

    reopened = build_test_app(tmp_path, config_text=NO_LIMITS)
    actions = [entry.action for entry in audit.recent(reopened.store, action_prefix="privacy.")]
    reopened.store.close()
    assert actions[:3] == ["privacy.export", "privacy.forget", "privacy.export"]
