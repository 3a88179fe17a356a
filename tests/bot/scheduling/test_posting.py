"""Scheduled posts are sent exactly once: on time, late within the grace period, never twice after a crash."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import BotApp
from bot.delivery import DeliveryError
from bot.messages import ConversationKey
from bot.scheduling.clock import ManualClock
from tests.bot.scheduling.conftest import AppFactory, service_of
from tests.bot.scheduling.fake_sender import FakePlatform, SimulatedCrash

CHANNEL = ConversationKey("telegram", "-100200")
DISCORD_CHANNEL = ConversationKey("discord", "555")


def post_states(app: BotApp) -> list[str]:
    return [row["state"] for row in app.store.db.query("select state from posts order by id")]


async def test_one_off_post_is_sent_once_when_its_time_comes(
    sched_app: BotApp, telegram: FakePlatform, clock: ManualClock
) -> None:
    service = service_of(sched_app)
    service.schedule("Meetup tonight at 7!", CHANNEL, "in 30m")

    await service.run_due()
    assert telegram.posted == []

    clock.advance(timedelta(minutes=30))
    await service.run_due()
    await service.run_due()

    assert telegram.posted == ["Meetup tonight at 7!"]
    assert telegram.posts[0].conversation == CHANNEL
    assert telegram.posts[0].idempotency_key
    row = next(sched_app.store.db.query("select * from posts"))
    assert (row["state"], row["attempts"], row["platform_message_ids"]) == ("sent", 1, '["telegram-1"]')


async def test_the_same_slot_cannot_be_claimed_twice(sched_app: BotApp, clock: ManualClock) -> None:
    service = service_of(sched_app)
    schedule = service.schedule("hi", CHANNEL, "in 1m")
    slot = clock.now() + timedelta(minutes=1)

    first = service.outbox.claim_slot(schedule.id, slot, "pending", clock.now())
    second = service.outbox.claim_slot(schedule.id, slot, "pending", clock.now())

    assert first is not None and second is None


async def test_crash_after_telegram_accepted_the_post_is_reported_not_resent(
    make_app: AppFactory, clock: ManualClock
) -> None:
    app = make_app()
    await app.start()
    crashing = FakePlatform("telegram", crash_after_delivery=True)
    app.register_sender(crashing)
    service_of(app).schedule("Only once, please", CHANNEL, "in 5m")
    clock.advance(timedelta(minutes=5))
    with pytest.raises(SimulatedCrash):
        await service_of(app).run_due()
    assert post_states(app) == ["sending"]
    app.store.close()  # the process died: no stop(), no cleanup

    restarted = make_app()
    await restarted.start()
    telegram = FakePlatform("telegram")
    restarted.register_sender(telegram)
    clock.advance(timedelta(minutes=1))
    await service_of(restarted).run_due()
    await service_of(restarted).run_due()

    assert crashing.posted + telegram.posted == ["Only once, please"]
    assert post_states(restarted) == ["unknown"]
    assert len(telegram.staff_notices) == 1
    assert "NOT re-sent" in telegram.staff_notices[0]
    listing = await restarted.manager.handle(_admin("/schedule list"))
    assert "unknown" in listing[0].text
    await restarted.stop()


async def test_crash_while_posting_to_discord_is_resent_with_the_same_key_and_deduplicated(
    make_app: AppFactory, clock: ManualClock
) -> None:
    app = make_app()
    await app.start()
    platform = FakePlatform("discord", dedupe_by_key=True, crash_after_delivery=True)
    app.register_sender(platform)
    service_of(app).schedule("Discord news", DISCORD_CHANNEL, "in 5m")
    clock.advance(timedelta(minutes=5))
    with pytest.raises(SimulatedCrash):
        await service_of(app).run_due()
    app.store.close()

    restarted = make_app()
    await restarted.start()
    platform.crash_after_delivery = False  # same platform, which remembers the nonce it saw
    restarted.register_sender(platform)
    clock.advance(timedelta(seconds=30))
    await service_of(restarted).run_due()

    assert platform.posted == ["Discord news"]
    assert post_states(restarted) == ["sent"]
    row = next(restarted.store.db.query("select attempts, idempotency_key from posts"))
    assert row["attempts"] == 2 and row["idempotency_key"] == platform.posts[0].idempotency_key
    await restarted.stop()


async def test_post_due_while_the_bot_was_down_is_sent_late_within_the_grace_period(
    make_app: AppFactory, clock: ManualClock
) -> None:
    app = make_app()
    await app.start()
    service_of(app).schedule("Late but fine", CHANNEL, "in 10m")
    await app.stop()

    clock.advance(timedelta(minutes=15))  # 5 minutes late; grace is 10
    restarted = make_app()
    await restarted.start()
    telegram = FakePlatform("telegram")
    restarted.register_sender(telegram)
    await service_of(restarted).run_due()

    assert telegram.posted == ["Late but fine"]
    assert telegram.staff_notices == []
    await restarted.stop()


async def test_post_due_while_the_bot_was_down_past_the_grace_period_is_missed_and_reported(
    make_app: AppFactory, clock: ManualClock
) -> None:
    app = make_app()
    await app.start()
    service_of(app).schedule("Too late", CHANNEL, "in 10m")
    await app.stop()

    clock.advance(timedelta(hours=2))
    restarted = make_app()
    await restarted.start()
    telegram = FakePlatform("telegram")
    restarted.register_sender(telegram)
    await service_of(restarted).run_due()
    await service_of(restarted).run_due()

    assert telegram.posted == []
    assert post_states(restarted) == ["missed"]
    assert len(telegram.staff_notices) == 1 and "was missed" in telegram.staff_notices[0]
    await restarted.stop()


async def test_recurring_schedule_coalesces_missed_runs_into_one_catch_up_post(
    make_app: AppFactory, clock: ManualClock
) -> None:
    app = make_app()
    await app.start()
    service_of(app).schedule("Hourly reminder", CHANNEL, "every 1h")
    await app.stop()

    clock.advance(timedelta(hours=5, minutes=3))  # five runs missed; the last one 3 minutes ago
    restarted = make_app()
    await restarted.start()
    telegram = FakePlatform("telegram")
    restarted.register_sender(telegram)
    await service_of(restarted).run_due()

    assert telegram.posted == ["Hourly reminder"]
    row = next(restarted.store.db.query("select slot_time, coalesced, state from posts"))
    assert (row["coalesced"], row["state"]) == (4, "sent")

    clock.advance(timedelta(minutes=57))
    await service_of(restarted).run_due()
    assert telegram.posted == ["Hourly reminder", "Hourly reminder"]
    await restarted.stop()


async def test_retryable_failure_is_retried_with_backoff_then_sent(
    sched_app: BotApp, telegram: FakePlatform, clock: ManualClock
) -> None:
    service = service_of(sched_app)
    telegram.failures.append(DeliveryError("network hiccup", retryable=True))
    service.schedule("Retry me", CHANNEL, "now")

    await service.run_due()
    assert telegram.posted == [] and post_states(sched_app) == ["pending"]
    clock.advance(timedelta(seconds=5))
    await service.run_due()
    assert telegram.posted == []  # backoff is 10s
    clock.advance(timedelta(seconds=6))
    await service.run_due()

    assert telegram.posted == ["Retry me"]
    assert post_states(sched_app) == ["sent"]


async def test_permanent_failure_is_not_retried_and_is_reported(
    sched_app: BotApp, telegram: FakePlatform, clock: ManualClock
) -> None:
    service = service_of(sched_app)
    telegram.failures.append(DeliveryError("chat not found", retryable=False))
    service.schedule("Nowhere", CHANNEL, "now")

    await service.run_due()
    clock.advance(timedelta(hours=1))
    await service.run_due()

    assert telegram.posted == []
    assert post_states(sched_app) == ["failed"]
    assert len(telegram.staff_notices) == 1 and "chat not found" in telegram.staff_notices[0]


async def test_retries_stop_after_max_retries(sched_app: BotApp, telegram: FakePlatform, clock: ManualClock) -> None:
    service = service_of(sched_app)
    telegram.failures.extend(DeliveryError("flood", retryable=True) for _ in range(5))
    service.schedule("Flooded", CHANNEL, "now")

    for _ in range(6):
        await service.run_due()
        clock.advance(timedelta(minutes=5))

    row = next(sched_app.store.db.query("select state, attempts from posts"))
    assert (row["state"], row["attempts"]) == ("failed", 3)  # first try + max_retries (2)


async def test_post_waits_for_its_platform_to_connect(sched_app: BotApp, clock: ManualClock) -> None:
    service = service_of(sched_app)
    service.schedule("Waiting", CHANNEL, "now")
    await service.run_due()
    row = next(sched_app.store.db.query("select state, last_error from posts"))
    assert row["state"] == "pending" and "not connected" in row["last_error"]

    clock.advance(timedelta(minutes=2))
    telegram = FakePlatform("telegram")
    sched_app.register_sender(telegram)
    await service.run_due()
    assert telegram.posted == ["Waiting"]


async def test_posting_to_both_platforms(
    sched_app: BotApp, telegram: FakePlatform, discord: FakePlatform, clock: ManualClock
) -> None:
    service = service_of(sched_app)
    service.schedule("Hello Telegram", CHANNEL, "in 1m")
    service.schedule("Hello Discord", DISCORD_CHANNEL, "in 1m")

    clock.advance(timedelta(minutes=1))
    await service.run_due()

    assert telegram.posted == ["Hello Telegram"]
    assert discord.posted == ["Hello Discord"]
    assert discord.posts[0].idempotency_key != telegram.posts[0].idempotency_key
    assert len(discord.posts[0].idempotency_key) <= 25


async def test_cancelled_schedule_posts_nothing(sched_app: BotApp, telegram: FakePlatform, clock: ManualClock) -> None:
    service = service_of(sched_app)
    schedule = service.schedule("Never mind", CHANNEL, "every 1h")
    service.cancel(schedule.id)

    clock.advance(timedelta(hours=3))
    await service.run_due()

    assert telegram.posted == []


def _admin(text: str):  # type: ignore[no-untyped-def]
    from tests.support import incoming

    return incoming(text, platform="telegram", chat_id="-100200", is_admin=True)
