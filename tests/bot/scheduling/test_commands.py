"""`/schedule` from chat: admins plan, list and cancel posts; everyone else is refused."""

from __future__ import annotations

from datetime import timedelta

from bot.app import BotApp
from bot.scheduling.clock import ManualClock
from tests.bot.scheduling.conftest import service_of
from tests.bot.scheduling.fake_sender import FakePlatform
from tests.support import incoming


def admin(text: str) -> object:
    return incoming(text, platform="telegram", chat_id="-100200", is_admin=True)


async def say(app: BotApp, text: str, is_admin: bool = True) -> str:
    replies = await app.manager.handle(incoming(text, platform="telegram", chat_id="-100200", is_admin=is_admin))
    return replies[0].text


async def test_admin_schedules_literal_text_here_and_it_is_posted(
    sched_app: BotApp, telegram: FakePlatform, clock: ManualClock
) -> None:
    reply = await say(sched_app, '/schedule "Welcome, new members!" here in 15m')
    assert reply.startswith("Scheduled #1: once at")

    clock.advance(timedelta(minutes=15))
    await service_of(sched_app).run_due()

    assert telegram.posted == ["Welcome, new members!"]
    assert telegram.posts[0].conversation.chat_id == "-100200"


async def test_smart_quotes_from_phones_are_understood(sched_app: BotApp) -> None:
    reply = await say(sched_app, "/schedule “Hi all” discord:555 daily 09:00")
    assert reply.startswith("Scheduled #1: cron '0 9 * * *' to discord:555")


async def test_schedule_list_and_cancel(sched_app: BotApp) -> None:
    await say(sched_app, '/schedule "Weekly news" telegram:-100200 cron 0 9 * * mon')
    listing = await say(sched_app, "/schedule list")
    assert "#1 [active] cron '0 9 * * mon' -> telegram:-100200 (text): Weekly news" in listing
    assert "next: 2030-03-04 09:00 UTC" in listing

    assert await say(sched_app, "/schedule cancel 1") == "Schedule #1 cancelled."
    assert "[cancelled]" in await say(sched_app, "/schedule list")
    assert "nothing to cancel" in await say(sched_app, "/schedule cancel 1")


async def test_non_admins_cannot_schedule(sched_app: BotApp) -> None:
    assert await say(sched_app, '/schedule "spam" here now', is_admin=False) == "Only admins can use /schedule."
    assert service_of(sched_app).outbox.active_schedules() == []


async def test_bad_arguments_get_a_usable_answer(sched_app: BotApp) -> None:
    assert "Usage: /schedule" in await say(sched_app, "/schedule")
    assert "Usage: /schedule" in await say(sched_app, '/schedule "unclosed here now')
    assert "not a target" in await say(sched_app, '/schedule "x" nowhere now')
    assert "cannot read" in await say(sched_app, '/schedule "x" here someday')
    assert "there is no draft #42" in await say(sched_app, "/schedule 42 here now")
