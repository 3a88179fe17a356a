"""APScheduler only wakes the posting service: its jobs mirror the active schedules and a real wake posts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.messages import ConversationKey
from bot.scheduling.feature import SchedulingFeature
from tests.bot.scheduling.fake_sender import FakePlatform
from tests.support import build_test_app


async def test_jobs_mirror_active_schedules_and_a_due_job_posts_on_the_real_clock(tmp_path: Path) -> None:
    feature = SchedulingFeature()  # system clock, real AsyncIOScheduler
    app = build_test_app(tmp_path, config_text="[scheduler]\npoll_interval_s = 60\n", features=[feature])
    await app.start()
    telegram = FakePlatform("telegram")
    app.register_sender(telegram)
    assert feature.service is not None and feature.runner is not None
    try:
        recurring = feature.service.schedule("daily news", ConversationKey("telegram", "1"), "daily 09:00")
        soon = feature.service.schedule("right away", ConversationKey("telegram", "1"), "in 1s")
        assert feature.runner.job_ids() == ["outbox-sweep", f"schedule-{recurring.id}", f"schedule-{soon.id}"]

        for _ in range(40):
            if telegram.posted:
                break
            await asyncio.sleep(0.1)

        assert telegram.posted == ["right away"]
        assert feature.runner.job_ids() == ["outbox-sweep", f"schedule-{recurring.id}"]
        feature.service.cancel(recurring.id)
        assert feature.runner.job_ids() == ["outbox-sweep"]
    finally:
        await app.stop()
    assert feature.runner is None
