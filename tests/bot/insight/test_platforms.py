"""Insight on the fake Telegram and Discord servers with the real clients: group messages get their sentiment, a
bad evening reaches the staff chat as an alert, and `/insights` answers an administrator with that chat's figures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.telegram import TelegramAdapter, create_adapter
from bot.app import BotApp
from bot.engine.fake import ScriptedEngine
from bot.insight.feature import InsightFeature
from tests.adapters.discord.conftest import FakeDiscord, StartBot, eventually, fake_discord, start_bot  # noqa: F401
from tests.adapters.telegram.conftest import telegram_config
from tests.fakes.telegram_api import FakeTelegramServer
from tests.support import build_test_app

GROUP, STAFF = -100111, -100999
ADMIN, MEMBERS = 444, range(500, 512)


@pytest.fixture
async def telegram_server() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer() as server:
        yield server


@pytest.fixture
async def running(tmp_path: Path, telegram_server: FakeTelegramServer) -> AsyncIterator[tuple[BotApp, InsightFeature]]:
    extra = f'[insight]\nstaff_platform = "telegram"\nstaff_chat_id = "{STAFF}"\nmin_window_messages = 5\n'
    app = build_test_app(
        tmp_path,
        engine=ScriptedEngine(default_reply="ok"),
        config_text=telegram_config(telegram_server, extra=extra),
        environ={"TELEGRAM_BOT_TOKEN": telegram_server.token},
    )
    feature = next(feature for feature in app.features if isinstance(feature, InsightFeature))
    feature.run_worker = False
    await app.start()
    adapter: TelegramAdapter = create_adapter(app)
    await adapter.start()
    telegram_server.set_administrators(GROUP, [ADMIN])
    yield app, feature
    await adapter.stop()
    await app.stop()


async def test_group_messages_are_scored_and_a_negative_evening_alerts_the_staff_chat(
    running: tuple[BotApp, InsightFeature], telegram_server: FakeTelegramServer
) -> None:
    app, feature = running
    angry = "this update is terrible, I hate it, worst app ever"
    for member in MEMBERS:
        await telegram_server.push_message(angry, chat_id=GROUP, chat_type="supergroup", user_id=member)
    handled = "select count(*) from messages where role = 'user' and status != 'received'"
    for _ in range(200):  # bounded: the adapter stores and handles each update as it polls
        if app.store.db.execute(handled).fetchone()[0] == len(MEMBERS):
            break
        await asyncio.sleep(0.05)
    assert await feature.score_now() == len(MEMBERS)
    labels = {row["label"] for row in app.store.db.query("select label from insight_sentiment")}
    assert labels == {"negative"}

    feature.now = lambda: datetime.now(UTC) + timedelta(minutes=1)
    alerts = await feature.check_alerts()
    assert [alert.kind for alert in alerts] == ["negative_spike"]
    await telegram_server.wait_for(lambda: any("[insight]" in m.text for m in telegram_server.replies_to(STAFF)))
    posted = next(m.text for m in telegram_server.replies_to(STAFF) if "[insight]" in m.text)
    assert f"telegram:{GROUP}: negative sentiment spike" in posted and angry[:30] in posted

    await telegram_server.push_message("/insights 7", chat_id=GROUP, chat_type="supergroup", user_id=ADMIN)
    await telegram_server.wait_for(lambda: any("Insights for" in m.text for m in telegram_server.replies_to(GROUP)))
    summary = next(m.text for m in telegram_server.replies_to(GROUP) if "Insights for" in m.text)
    assert f"{len(MEMBERS)} messages from {len(MEMBERS)} members" in summary


async def test_discord_channel_messages_are_scored_and_insights_answers_an_admin(
    start_bot: StartBot,  # noqa: F811
    fake_discord: FakeDiscord,  # noqa: F811  (both fixtures come from the Discord tests)
) -> None:
    bot = await start_bot(engine=ScriptedEngine(default_reply="ok"))
    feature = next(feature for feature in bot.app.features if isinstance(feature, InsightFeature))
    await fake_discord.post(fake_discord.alice, "I love this server, everyone is so kind and helpful!")
    await fake_discord.post(fake_discord.alice, "this update is terrible, I hate it")
    handled = "select count(*) from messages where role = 'user' and status != 'received'"
    await eventually(lambda: bot.app.store.db.execute(handled).fetchone()[0] == 2 or None)
    await feature.score_now()
    labels = [row["label"] for row in bot.app.store.db.query("select label from insight_sentiment order by 1")]
    assert labels == ["negative", "positive"]

    await fake_discord.slash(fake_discord.alice, "insights", "7")
    refused = await eventually(lambda: fake_discord.rest.followups())
    assert refused[0]["content"] == "Only admins can use /insights."
    await fake_discord.slash(fake_discord.admin, "insights", "7")
    summary = await eventually(lambda: fake_discord.rest.followups()[1:])
    assert "2 messages from 1 members" in summary[0]["content"]
    assert "50% positive, 0% neutral, 50% negative" in summary[0]["content"]
