"""The dashboard in a real browser (headless Chromium) against a bot connected to the fake Telegram server.

One bot and one browser serve the whole module (starting them is the slow part); each test clears the
cookies and works on its own data. Set $SOCIALBOT_SCREENSHOTS to a folder to keep screenshots of the pages.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from adapters.telegram import TelegramAdapter, create_adapter
from bot.app import BotApp
from bot.dashboard.feature import DashboardFeature
from bot.engine.fake import ScriptedEngine
from bot.moderation.gate import GatePolicy, ModerationGate
from tests.adapters.telegram.conftest import telegram_config
from tests.bot.dashboard import browser
from tests.bot.dashboard.conftest import DASHBOARD_CONFIG, PASSWORD
from tests.fakes.telegram_api import FakeTelegramServer
from tests.support import build_test_app

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

MEMBER_CHAT = 4242
GROUP_CHAT = -100555
DRAFT_TEXT = "Join us this Saturday for the summer meetup in the park: games, snacks and good company for all!"
RETURNS_DOC = b"""# Returns

You can return any item within 30 days of delivery for a full refund. Bring the receipt.

# Opening hours

The shop is open Monday to Friday from 9:00 to 17:00.
"""


class ScoreByWord:
    """Scores texts containing 'vile' as very offensive; everything else as harmless."""

    def score(self, text: str) -> float:
        return 0.99 if "vile" in text else 0.01


@dataclass
class Live:
    """The running bot, its Telegram fake, its dashboard URL and the browser."""

    app: BotApp
    telegram: FakeTelegramServer
    url: str
    context: Any

    async def page(self, logged_in: bool = True) -> Any:
        await self.context.clear_cookies()
        page = await self.context.new_page()
        if logged_in:
            await page.goto(self.url + "login")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(self.url)
        return page


async def screenshot(page: Any, name: str) -> None:
    folder = os.environ.get("SOCIALBOT_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def live(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Live]:
    folder = tmp_path_factory.mktemp("browser")
    launched = await browser.launch(folder / "profile")
    if isinstance(launched, str):
        pytest.skip(f"browser tests skipped: {launched}")
    playwright, context = launched
    async with FakeTelegramServer() as telegram:
        config = telegram_config(
            telegram, extra=DASHBOARD_CONFIG.replace("[dashboard]", "[dashboard]\nenabled = true\nport = 0")
        )
        gate = ModerationGate(GatePolicy(input_flag_threshold=0.7), offensive=ScoreByWord())
        app = build_test_app(
            folder,
            engine=ScriptedEngine(default_reply=DRAFT_TEXT),
            config_text=config,
            gate=gate,
            environ={"TELEGRAM_BOT_TOKEN": telegram.token, "SOCIALBOT_DASHBOARD_PASSWORD": PASSWORD},
        )
        await app.start()
        adapter: TelegramAdapter = create_adapter(app)
        await adapter.start()
        dashboard = next(feature for feature in app.features if isinstance(feature, DashboardFeature))
        assert dashboard.server is not None, "[dashboard] enabled = true: socialbot run serves it"
        try:
            yield Live(app, telegram, dashboard.server.url, context)
        finally:
            await context.close()
            await playwright.stop()
            await adapter.stop()
            await app.stop()


async def test_owner_logs_in_adds_a_kb_document_and_tries_a_question(live: Live, tmp_path: Path) -> None:
    page = await live.page()
    await screenshot(page, "overview-empty")
    await page.click("nav >> text=Knowledge base")
    document = tmp_path / "returns policy.md"
    document.write_bytes(RETURNS_DOC)
    await page.set_input_files("input[name=document]", str(document))
    await page.click("form[action='/kb/upload'] button")
    await page.wait_for_selector(".notice.ok")
    assert "Returns: added" in await page.inner_text(".notice.ok")
    assert "returns_policy.md" in await page.inner_text("table")
    await page.fill("input[name=question]", "How many days do I have to return an item?")
    await page.click("form[action='/kb/try'] button")
    assert await page.inner_text("#decision") == "answered"
    assert float(await page.inner_text("#confidence")) >= 0.46
    passages = await page.inner_text("ol.passages")
    assert "within 30 days of delivery" in passages
    await screenshot(page, "kb-try-question")
    await page.fill("input[name=question]", "Do you sell concert tickets for the opera?")
    await page.click("form[action='/kb/try'] button")
    assert await page.inner_text("#decision") == "declined"


async def test_owner_asks_for_a_draft_approves_and_schedules_it(live: Live) -> None:
    page = await live.page()
    await page.click("nav >> text=Drafts & schedule")
    await page.fill("input[name=topic]", "summer meetup")
    await page.fill("input[name=count]", "1")
    await page.click("form[action='/content/suggest'] button")
    assert "1 new draft(s)" in await page.inner_text(".notice.ok")
    draft = page.locator("article.draft").first
    assert "summer meetup" in (await draft.locator("textarea").input_value()).lower()
    await draft.locator("textarea").fill(DRAFT_TEXT + " See you there.")
    await draft.locator("form[action$='/edit'] button").click()
    draft = page.locator("article.draft").first
    await draft.locator("form[action$='/approve'] button").click()
    draft = page.locator("article.draft").first
    assert "approved" in await draft.locator("header").inner_text()
    await draft.locator("input[name=target]").fill(f"telegram:{GROUP_CHAT}")
    await draft.locator("input[name=when]").fill("daily 09:00")
    await draft.locator("form[action$='/schedule'] button").click()
    assert "scheduled" in await page.inner_text(".notice.ok")
    calendar = await page.inner_text("table.calendar")
    assert f"09:00 #1 → telegram:{GROUP_CHAT}" in calendar
    schedules = live.app.store.db.execute("select text, status from schedules").fetchall()
    assert schedules == [(DRAFT_TEXT + " See you there.", "active")]
    await screenshot(page, "drafts-and-calendar")


async def test_owner_undoes_an_automod_timeout_and_the_platform_lifts_it(live: Live) -> None:
    await live.telegram.push_message("you are vile", chat_id=GROUP_CHAT, user_id=777, chat_type="supergroup")
    restricted = lambda: [a for a in live.telegram.state.actions if a[0] == "restrictChatMember"]  # noqa: E731
    await live.telegram.wait_for(lambda: len(restricted()) == 1)
    page = await live.page()
    await page.click("nav >> text=Moderation")
    row = page.locator("tr[id^=modlog-]").first
    assert "timeout" in await row.inner_text() and "offensive" in await row.inner_text()
    await screenshot(page, "moderation")
    await row.locator("form[action$='/undo'] button").click()
    assert "Undid automod action" in await page.inner_text(".notice.ok")
    await live.telegram.wait_for(lambda: len(restricted()) == 2)
    assert restricted()[1][1]["user_id"] == 777 and restricted()[1][1]["permissions"]["can_send_messages"] is True
    assert "undone" in await page.locator("tr[id^=modlog-]").first.inner_text()


async def test_staff_reply_to_a_ticket_reaches_the_member_on_telegram(live: Live) -> None:
    await live.telegram.push_message("Can I talk to a human please?", chat_id=MEMBER_CHAT, user_id=MEMBER_CHAT)
    await live.telegram.wait_for(lambda: "ticket" in " ".join(m.text for m in live.telegram.replies_to(MEMBER_CHAT)))
    page = await live.page()
    await page.click("nav >> text=Tickets")
    await page.click("text=#1")
    assert "Can I talk to a human please?" in await page.inner_text("ol.thread")
    await page.fill("textarea[name=text]", "Hi Alice, this is Sam from the shop. How can I help?")
    await page.click("form[action$='/reply'] button")
    assert "Reply delivered" in await page.inner_text(".notice.ok")
    await live.telegram.wait_for(
        lambda: any("this is Sam from the shop" in m.text for m in live.telegram.replies_to(MEMBER_CHAT))
    )
    await screenshot(page, "ticket")
    await page.click("form[action$='/close'] button")
    assert "closed; the member has been told" in await page.inner_text(".notice.ok")


async def test_unauthenticated_pages_missing_csrf_and_injected_script_are_refused_or_escaped(live: Live) -> None:
    script = "<script>alert(1)</script>"
    await live.telegram.push_message(f"hello {script}", chat_id=5151, user_id=5151, first_name=f"Mallory{script}")
    await live.telegram.wait_for(lambda: bool(live.telegram.replies_to(5151)))
    anonymous = await live.page(logged_in=False)
    await anonymous.goto(live.url + "moderation")
    assert anonymous.url == live.url + "login"
    refused = await live.context.request.post(live.url + "rules/add", form={"spec": 'keyword "x" -> y'})
    assert refused.status == 401
    page = await live.page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    forged = await live.context.request.post(live.url + "rules/add", form={"spec": 'keyword "x" -> y'})
    assert forged.status == 403
    await page.goto(live.url + "conversations?q=alert")
    assert f"hello {script}" in await page.inner_text("table")
    assert await page.locator("script").count() == 0
    await page.click(f"text=Mallory{script}")
    assert f"Mallory{script}" in await page.inner_text("h1")
    assert await page.locator("script").count() == 0 and dialogs == []
    await screenshot(page, "member-escaped-script")
    assert live.app.store.db.execute("select count(*) from rules").fetchone() == (0,)
