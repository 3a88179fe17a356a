"""The weekly report reaches the staff chat through its APScheduler job: the summary text, then each chart as a
PNG image (Telegram sendPhoto, Discord file attachment), with the real clients against the fake servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.telegram import create_adapter
from bot.engine.fake import ScriptedEngine
from bot.insight.feature import InsightFeature
from bot.insight.report import CHART_TITLES
from bot.insight.weekly import weekly_trigger
from bot.store import Store
from tests.adapters.discord.conftest import FakeDiscord, StartBot, eventually, fake_discord, start_bot  # noqa: F401
from tests.adapters.telegram.conftest import telegram_config
from tests.bot.insight.test_alerts import START, replay_week
from tests.fakes.telegram_api import FakeTelegramServer
from tests.support import build_test_app

STAFF = -100999
MONDAY_AFTER = START + timedelta(days=7, hours=9, minutes=5)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def telegram_server() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer() as server:
        yield server


def insight(features: object) -> InsightFeature:
    return next(feature for feature in features if isinstance(feature, InsightFeature))  # type: ignore[attr-defined]


def test_the_weekly_trigger_fires_at_the_configured_weekday_and_utc_time() -> None:
    trigger = weekly_trigger("mon 09:00")
    wednesday = datetime(2026, 11, 4, 15, 30, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, wednesday) == datetime(2026, 11, 9, 9, 0, tzinfo=UTC)


async def test_telegram_staff_chat_gets_the_weekly_text_then_the_charts_as_photos(
    tmp_path: Path, telegram_server: FakeTelegramServer
) -> None:
    replay_week(Store.open(tmp_path / "bot.db"))
    extra = f'[insight]\nstaff_platform = "telegram"\nstaff_chat_id = "{STAFF}"\nweekly_report = "mon 09:00"\n'
    app = build_test_app(
        tmp_path,
        engine=ScriptedEngine(default_reply="ok"),
        config_text=telegram_config(telegram_server, extra=extra),
        environ={"TELEGRAM_BOT_TOKEN": telegram_server.token},
    )
    feature = insight(app.features)
    feature.run_worker = False
    feature.now = lambda: MONDAY_AFTER
    await app.start()
    adapter = create_adapter(app)
    await adapter.start()
    try:
        assert feature.weekly_job is not None
        next_run = feature.weekly_job.next_run_time()
        assert next_run is not None and (next_run.weekday(), next_run.hour, next_run.minute) == (0, 9, 0)
        feature.weekly_job.fire_now()
        await telegram_server.wait_for(lambda: len(telegram_server.state.photos) == len(CHART_TITLES), timeout=60)
        texts = [message.text for message in telegram_server.replies_to(STAFF)]
        assert texts[0].startswith("Weekly insights for the last 7 day(s):")
        assert [caption for _, _, _, caption in telegram_server.state.photos] == list(CHART_TITLES.values())
        for chat_id, filename, data, _ in telegram_server.state.photos:
            assert chat_id == STAFF and filename.endswith(".png") and data.startswith(PNG_MAGIC)
        assert telegram_server.state.documents == []  # charts go as photos, not as files
        assert await feature.post_weekly_report() is False  # the slot is posted once
    finally:
        await adapter.stop()
        await app.stop()


async def test_discord_staff_channel_gets_the_weekly_text_then_the_charts_as_image_attachments(
    tmp_path: Path,
    start_bot: StartBot,  # noqa: F811
    fake_discord: FakeDiscord,  # noqa: F811  (both fixtures come from the Discord tests)
) -> None:
    replay_week(Store.open(tmp_path / "bot.db"))
    staff = fake_discord.random["id"]
    config = f'[insight]\nstaff_platform = "discord"\nstaff_chat_id = "{staff}"\nweekly_report = "mon 09:00"\n'

    def prepare(app: object) -> None:
        feature = insight(app.features)  # type: ignore[attr-defined]
        feature.run_worker = False
        feature.now = lambda: MONDAY_AFTER

    bot = await start_bot(engine=ScriptedEngine(default_reply="ok"), config_text=config, prepare=prepare)
    feature = insight(bot.app.features)
    assert feature.weekly_job is not None
    feature.weekly_job.fire_now()
    uploads = await eventually(lambda: len(fake_discord.rest.uploads) == len(CHART_TITLES), timeout=60)
    assert uploads
    for path, filename, data in fake_discord.rest.uploads:
        assert path == f"/channels/{staff}/messages" and filename.endswith(".png") and data.startswith(PNG_MAGIC)
    contents = [message["content"] for message in fake_discord.rest.sent_messages(staff)]
    assert contents[0].startswith("Weekly insights for the last 7 day(s):")
    assert contents[1:] == list(CHART_TITLES.values())
