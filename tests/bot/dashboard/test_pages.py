"""Each dashboard page works through the features' own APIs (HTTP test client, no browser)."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from markupsafe import Markup, escape

from bot import audit
from bot.automod.modlog import ModerationLog
from bot.dashboard.panels import OVERVIEW_PANELS
from bot.dashboard.server import DashboardServer
from bot.store import Store
from bot.suggest.drafts import DraftStore
from tests.bot.dashboard.conftest import Harness, dashboard_app
from tests.support import incoming

PAGES = ("/", "/conversations", "/kb", "/rules", "/content", "/moderation", "/tickets", "/settings")


class InsightPanel:
    """A stand-in for the insight feature's chart panel (it only needs `title` and `render`)."""

    title = "Messages per hour"

    def render(self, store: Store) -> Markup:
        count = next(store.db.query("select count(*) as n from messages"))["n"]
        return Markup("<p class='chart'>{} messages</p>").format(escape(str(count)))


async def test_every_page_renders_for_the_owner(harness: Harness) -> None:
    await harness.app.manager.handle(incoming("hello there"))
    await harness.login()
    for path in PAGES:
        response = await harness.client.get(path)
        assert response.status == 200, path
        assert "<h1>" in await response.text(), path


async def test_overview_shows_registered_insight_panels(harness: Harness) -> None:
    await harness.app.manager.handle(incoming("hello there"))
    await harness.login()
    OVERVIEW_PANELS.append(InsightPanel())
    try:
        html = await (await harness.client.get("/")).text()
    finally:
        OVERVIEW_PANELS.clear()
    assert "Messages per hour" in html and "<p class='chart'>2 messages</p>" in html
    assert "Messages Received" in html or "messages received" in html


async def test_a_written_document_can_be_edited_and_deleted(harness: Harness) -> None:
    await harness.login()
    _, html = await harness.post("/kb/new", title="Delivery", text="We deliver within 3 days.")
    assert "Delivery: added" in html
    kb = next(feature for feature in harness.app.features if feature.name == "kb").kb
    [document] = kb.documents()
    _, html = await harness.post(f"/kb/{document.id}/edit", text="# Delivery\n\nWe deliver within 5 working days.")
    assert "Delivery: updated" in html
    passages = [row["text"] for row in harness.app.store.db.query("select text from kb_passages")]
    assert passages == ["We deliver within 5 working days."]
    _, html = await harness.post(f"/kb/{document.id}/delete")
    assert "Deleted &#39;Delivery&#39;" in html
    assert kb.documents() == [] and not list(harness.app.config.resolve_path("uploads").iterdir())


async def test_rules_are_added_tested_disabled_and_deleted(harness: Harness) -> None:
    await harness.login()
    _, html = await harness.post("/rules/add", spec="nonsense")
    assert "Rule not added" in html
    _, html = await harness.post("/rules/add", spec='keyword "opening hours" -> We are open 9-17.')
    assert "Rule #1 added" in html
    _, html = await harness.post("/rules/test", text="what are your opening hours?")
    assert "Rule #1" in html and "We are open 9-17." in html
    await harness.post("/rules/1/disable")
    _, html = await harness.post("/rules/test", text="what are your opening hours?")
    assert "No rule would answer" in html
    await harness.post("/rules/1/enable")
    await harness.post("/rules/1/delete")
    assert harness.app.store.db.table("rules").count == 0


async def test_a_member_is_exported_then_deleted_like_forgetme(harness: Harness) -> None:
    manager = harness.app.manager
    await manager.handle(incoming("my name is Bob and I like cake", user_id="bob", display_name="Bob"))
    await manager.handle(incoming("can I talk to a human?", user_id="bob", display_name="Bob"))
    store = harness.app.store
    user_id = next(store.db.query("select id from users where platform_user_id = 'bob'"))["id"]
    assert store.db.table("tickets").count == 1
    await harness.login()
    response = await harness.client.post(f"/members/{user_id}/export", data={"csrf_token": harness.csrf})
    exported = json.loads(await response.text())
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert [row["text"] for row in exported["messages"]][:1] == ["my name is Bob and I like cake"]
    assert len(exported["tickets"]) == 1
    _, html = await harness.post(f"/members/{user_id}/delete", confirm="no")
    assert "Type &#39;delete&#39; to confirm" in html
    _, html = await harness.post(f"/members/{user_id}/delete", confirm="delete")
    assert "Deleted Bob" in html
    assert store.db.execute("select count(*) from messages where user_id = ?", [user_id]).fetchone() == (0,)
    assert store.db.table("users").count == 0 and store.db.table("tickets").count == 0
    deletion = next(entry for entry in audit.recent(store) if entry.action == "dashboard.member.delete")
    assert deletion.target == "console:bob" and "cake" not in json.dumps(deletion.after)


async def test_marking_an_automod_action_wrong_stores_feedback_and_undoes_it(harness: Harness) -> None:
    conversation_id = harness.app.store.conversation_id(incoming("x").conversation)
    entry_id = ModerationLog(harness.app.store).record(
        conversation_id, 0, "9", "troll", 2, ("delete",), ("offensive",), {"offensive": 0.91}, "you are awful"
    )
    await harness.login()
    html = await (await harness.client.get("/moderation")).text()
    assert "offensive 0.91" in html and "you are awful" in html
    _, html = await harness.post(f"/moderation/{entry_id}/wrong")
    assert "false positive" in html
    feedback = list(harness.app.store.db.query("select text, label from moderation_feedback"))
    assert feedback == [{"text": "you are awful", "label": "NOT"}]
    assert ModerationLog(harness.app.store).get(entry_id).undone_at  # type: ignore[union-attr]


async def test_a_ticket_reply_without_a_connected_platform_is_kept_owed(harness: Harness) -> None:
    await harness.app.manager.handle(incoming("can I talk to a human?", platform="telegram", chat_id="55"))
    await harness.login()
    _, html = await harness.post("/tickets/1/reply", text="We'll call you back today.")
    assert "Reply stored, not delivered yet" in html
    row = next(harness.app.store.db.query("select status, source from messages order by id desc limit 1"))
    assert row == {"status": "pending_send", "source": "dashboard:staff"}
    [owed] = harness.app.store.db.query(
        "select text from messages where status = 'pending_send' and source = 'dashboard:staff'"
    )
    assert owed["text"] == "We'll call you back today."


async def test_drafts_are_rejected_and_a_cancelled_schedule_returns_its_draft(harness: Harness) -> None:
    drafts = DraftStore(harness.app.store)
    first = drafts.add("Come to our open day on Sunday!", topic="open day")
    second = drafts.add("Try our new autumn menu this week.", topic="menu")
    await harness.login()
    _, html = await harness.post(f"/drafts/{first.id}/reject")
    assert f"Draft #{first.id} rejected" in html
    await harness.post(f"/drafts/{second.id}/approve")
    _, html = await harness.post(f"/drafts/{second.id}/schedule", target="nowhere", when="daily 09:00")
    assert "&#39;nowhere&#39; is not a target" in html
    _, html = await harness.post(f"/drafts/{second.id}/schedule", target="telegram:-100", when="yesterday-ish")
    assert "Cannot read &#39;yesterday-ish&#39;" in html
    _, html = await harness.post(f"/drafts/{second.id}/schedule", target="telegram:-100", when="daily 09:00")
    assert "scheduled" in html and drafts.get(second.id).status == "scheduled"
    _, html = await harness.post("/schedules/1/cancel")
    assert "Schedule #1 cancelled" in html and drafts.get(second.id).status == "approved"


async def test_socialbot_dashboard_serves_the_same_database_without_the_bot(tmp_path: Path) -> None:
    app = dashboard_app(tmp_path, extra="port = 0\n")
    server = DashboardServer(app.context, engine_ready=False)
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url + "healthz") as response:
                assert response.status == 200
            async with session.get(server.url + "kb", allow_redirects=False) as response:
                assert response.status == 303
        assert server.settings.host == "127.0.0.1" and server.port != 0
    finally:
        await server.stop()
        app.store.close()


@pytest.mark.slow
async def test_the_page_benchmark_fills_a_database_and_times_every_page() -> None:
    from bot.benchmarks.dashboard import format_bench, run_bench

    result = await run_bench(2_000, repeat=1)
    assert result["data"]["messages"] == 2_000
    assert {timing["page"] for timing in result["pages"]} >= {"overview", "member history", "drafts & schedule"}
    assert all(timing["median_ms"] > 0 for timing in result["pages"])
    assert "worst median" in format_bench(result)
