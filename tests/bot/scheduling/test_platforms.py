"""Scheduled posts through the real adapters to the fake Telegram and Discord servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from adapters.telegram import create_adapter
from bot.app import BotApp
from bot.messages import ConversationKey
from bot.scheduling.clock import ManualClock
from bot.scheduling.feature import SchedulingFeature
from bot.scheduling.outbox import Outbox
from tests.adapters.discord.conftest import FakeDiscord, StartBot, fake_discord, start_bot  # noqa: F401
from tests.adapters.telegram.conftest import telegram_config
from tests.bot.scheduling.conftest import START, service_of
from tests.fakes.telegram_api import FakeTelegramServer
from tests.support import build_test_app


@asynccontextmanager
async def telegram_bot_with_scheduler(
    tmp_path: Path, clock: ManualClock
) -> AsyncIterator[tuple[BotApp, FakeTelegramServer]]:
    """A started app whose scheduler runs only when the test says, connected to a fake Telegram server."""
    async with FakeTelegramServer() as server:
        app = build_test_app(
            tmp_path,
            config_text=telegram_config(server),
            environ={"TELEGRAM_BOT_TOKEN": server.token},
            features=[SchedulingFeature(clock, run_scheduler=False)],
        )
        await app.start()
        adapter = create_adapter(app)
        await adapter.start()
        try:
            yield app, server
        finally:
            await adapter.stop()
            await app.stop()


async def test_scheduled_post_reaches_the_fake_telegram_server_once(tmp_path: Path) -> None:
    clock = ManualClock(START)
    async with telegram_bot_with_scheduler(tmp_path, clock) as (app, server):
        service_of(app).schedule("Club night is on!", ConversationKey("telegram", "-100777"), "in 10m")
        clock.advance(timedelta(minutes=10))
        await service_of(app).run_due()
        await service_of(app).run_due()
    posted = [message for message in server.state.sent if message.text == "Club night is on!"]
    assert [message.chat_id for message in posted] == [-100777]


async def test_long_telegram_post_cut_off_mid_delivery_is_finished_without_repeating_a_chunk(tmp_path: Path) -> None:
    clock = ManualClock(START)
    text = "\n\n".join(f"Section {index}: " + ("details of the club night " * 20).strip() for index in range(20))
    async with telegram_bot_with_scheduler(tmp_path, clock) as (app, server):
        service_of(app).schedule(text, ConversationKey("telegram", "-100777"), "in 10m")
        clock.advance(timedelta(minutes=10))
        server.fail_next("sendMessage", 500, times=4, after=1)  # more than the adapter retries itself
        await service_of(app).run_due()
        post = Outbox(app.store).posts_in("pending")[0]
        assert post.delivered_chars > 0 and len(server.state.sent) == 1
        clock.advance(timedelta(minutes=5))
        await service_of(app).run_due()
    chunks = [message.text for message in server.state.sent]
    assert len(chunks) == 3 and len(set(chunks)) == 3
    assert "\n\n".join(chunks) == text


async def test_discord_post_interrupted_mid_send_is_resent_with_the_same_nonce_and_appears_once(
    tmp_path: Path,
    start_bot: StartBot,  # noqa: F811
    fake_discord: FakeDiscord,  # noqa: F811
) -> None:
    clock = ManualClock(START)
    app = build_test_app(
        tmp_path,
        config_text="[discord]\nguild_ready_timeout_s = 0.05\n",
        features=[SchedulingFeature(clock, run_scheduler=False)],
    )
    await app.start()
    await start_bot(app=app)
    channel = ConversationKey("discord", fake_discord.random["id"])
    service_of(app).schedule("Weekly update", channel, "in 5m")
    clock.advance(timedelta(minutes=5))
    await service_of(app).run_due()
    # The process died after Discord created the message but before "sent" was committed.
    outbox = Outbox(app.store)
    post = outbox.posts_in("sent")[0]
    app.store.db.execute("update posts set state = 'sending' where id = ?", [post.id])
    app.store.db.conn.commit()

    await service_of(app).recover()
    await service_of(app).run_due()

    created = [message for message in fake_discord.rest.created_messages if message["content"] == "Weekly update"]
    assert len(created) == 1
    payloads = fake_discord.rest.sent_messages(channel.chat_id)
    assert len(payloads) == 2 and payloads[0]["nonce"] == payloads[1]["nonce"]
    assert outbox.get_post(post.id).state == "sent"
    await app.stop()
