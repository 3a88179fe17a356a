"""Fixtures for scheduling: a bot whose scheduler runs on a manual clock, with fake platforms attached."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import BotApp
from bot.scheduling.clock import ManualClock
from bot.scheduling.feature import SchedulingFeature
from bot.scheduling.service import PostingService
from tests.bot.scheduling.fake_sender import FakePlatform
from tests.support import build_test_app

START = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)
SCHEDULER_CONFIG = """
[scheduler]
timezone = "UTC"
grace_period_s = 600
max_retries = 2
retry_base_delay_s = 10
staff_platform = "telegram"
staff_chat_id = "staff"
"""

AppFactory = Callable[..., BotApp]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def make_app(tmp_path: Path, clock: ManualClock) -> AppFactory:
    """Builds a bot on the same database each call (a "restart" is building another one)."""

    def build(config_text: str = SCHEDULER_CONFIG, run_scheduler: bool = False) -> BotApp:
        feature = SchedulingFeature(clock=clock, run_scheduler=run_scheduler)
        return build_test_app(tmp_path, config_text=config_text, features=[feature])

    return build


def service_of(app: BotApp) -> PostingService:
    feature = app.features[0]
    assert isinstance(feature, SchedulingFeature) and feature.service is not None
    return feature.service


@pytest.fixture
async def sched_app(make_app: AppFactory) -> AsyncIterator[BotApp]:
    app = make_app()
    await app.start()
    yield app
    await app.stop()


@pytest.fixture
def telegram(sched_app: BotApp) -> FakePlatform:
    platform = FakePlatform("telegram")
    sched_app.register_sender(platform)
    return platform


@pytest.fixture
def discord(sched_app: BotApp) -> FakePlatform:
    platform = FakePlatform("discord", dedupe_by_key=True)
    sched_app.register_sender(platform)
    return platform
