"""The Telegram adapter end to end: the real python-telegram-bot against a fake Bot API server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from adapters.telegram import TelegramAdapter, TelegramAdapterError, create_adapter
from adapters.telegram.adapter import OFFSET_STATE_KEY
from bot.app import BotApp
from bot.delivery import DeliveryError
from bot.engine.fake import ScriptedEngine
from bot.messages import ConversationKey, OutgoingMessage, PlatformAction
from bot.routing import Command, TurnContext
from bot.store import StoredMessage
from tests.adapters.telegram.conftest import HoldingEngine, build_bot
from tests.fakes.telegram_api import FakeTelegramServer

GROUP = -1001987654321


def stored(app: BotApp, chat_id: int, thread: str = "") -> list[StoredMessage]:
    return app.store.messages_for(app.store.conversation_id(ConversationKey("telegram", str(chat_id), thread)))


async def test_direct_message_is_answered_in_plain_text_as_a_reply(
    adapter: TelegramAdapter, telegram_server: FakeTelegramServer, bot_app: BotApp, scripted_engine: ScriptedEngine
) -> None:
    scripted_engine.enqueue("We open at 9, *Alice*.")
    _, message_id = await telegram_server.push_message("when do you open?")
    await telegram_server.wait_for(lambda: [row.status for row in stored(bot_app, 111)] == ["answered", "sent"])
    [reply] = telegram_server.state.sent
    assert (reply.chat_id, reply.text, reply.reply_to_message_id, reply.parse_mode) == (
        111,
        "We open at 9, *Alice*.",
        message_id,
        None,
    )
    assert (111, "typing") in telegram_server.state.chat_actions
    rows = stored(bot_app, 111)
    assert [(row.role, row.status) for row in rows] == [("user", "answered"), ("assistant", "sent")]
    assert rows[1].platform_message_id == str(reply.message_id)


async def test_group_message_without_mention_is_stored_but_not_answered(
    adapter: TelegramAdapter, telegram_server: FakeTelegramServer, bot_app: BotApp
) -> None:
    await telegram_server.push_message("just chatting", chat_id=GROUP, chat_type="supergroup")
    _, mention_id = await telegram_server.push_message(
        "@social_test_bot any soup today?", chat_id=GROUP, chat_type="supergroup"
    )
    await telegram_server.wait_for(lambda: telegram_server.state.sent)
    await asyncio.sleep(0.1)
    assert [message.reply_to_message_id for message in telegram_server.state.sent] == [mention_id]
    rows = stored(bot_app, GROUP)
    assert [(row.text, row.status) for row in rows if row.role == "user"] == [
        ("just chatting", "ignored"),
        ("@social_test_bot any soup today?", "answered"),
    ]


async def test_reply_to_the_bot_in_a_group_is_answered(
    adapter: TelegramAdapter, telegram_server: FakeTelegramServer
) -> None:
    _, message_id = await telegram_server.push_message(
        "is it vegan?", chat_id=GROUP, chat_type="supergroup", reply_to_bot_message=1
    )
    await telegram_server.wait_for(lambda: telegram_server.state.sent)
    assert telegram_server.state.sent[0].reply_to_message_id == message_id


async def test_forum_topic_is_answered_in_the_same_topic_as_its_own_conversation(
    adapter: TelegramAdapter, telegram_server: FakeTelegramServer, bot_app: BotApp
) -> None:
    await telegram_server.push_message(
        "@social_test_bot where is my order?", chat_id=GROUP, chat_type="supergroup", thread_id=77
    )
    await telegram_server.wait_for(lambda: telegram_server.state.sent)
    assert telegram_server.state.sent[0].message_thread_id == 77
    assert [row.role for row in stored(bot_app, GROUP, "77")] == ["user", "assistant"]
    assert stored(bot_app, GROUP) == []


async def test_long_reply_is_sent_as_ordered_chunks_under_the_limit(
    tmp_path: Path, telegram_server: FakeTelegramServer
) -> None:
    sentences = [f"Sentence number {index} says something useful about the bakery." for index in range(200)]
    long_reply = " ".join(sentences)[:10_000]
    engine = ScriptedEngine([long_reply])
    app = build_bot(tmp_path, telegram_server, engine, extra="[generation]\nmax_new_tokens = 4096")
    async with app, create_adapter(app.platform_context()):
        _, message_id = await telegram_server.push_message("tell me everything")
        await telegram_server.wait_for(lambda: stored(app, 111)[-1:] and stored(app, 111)[-1].status == "sent")
    chunks = telegram_server.state.sent
    assert len(chunks) == 3
    assert all(len(chunk.text) < 4096 for chunk in chunks)
    assert " ".join(chunk.text for chunk in chunks) == long_reply.strip()
    assert [chunk.message_id for chunk in chunks] == sorted(chunk.message_id for chunk in chunks)
    assert {chunk.reply_to_message_id for chunk in chunks} == {message_id}


async def test_429_on_send_is_waited_out_and_the_reply_delivered_once(
    adapter: TelegramAdapter, telegram_server: FakeTelegramServer, bot_app: BotApp
) -> None:
    telegram_server.fail_next("sendMessage", 429, retry_after=1)
    started = time.monotonic()
    await telegram_server.push_message("hello")
    await telegram_server.wait_for(lambda: telegram_server.state.sent)
    await asyncio.sleep(0.1)
    assert len(telegram_server.state.sent) == 1
    assert telegram_server.state.calls.count("sendMessage") == 2
    assert time.monotonic() - started >= 1.0
    await telegram_server.wait_for(lambda: stored(bot_app, 111)[-1].status == "sent")


async def test_server_errors_on_getupdates_are_retried(
    adapter: TelegramAdapter, telegram_server: FakeTelegramServer
) -> None:
    telegram_server.fail_next("getUpdates", 502, times=2)
    await telegram_server.push_message("still there?")
    await telegram_server.wait_for(lambda: telegram_server.state.sent)


async def test_restart_mid_stream_answers_every_message_exactly_once(
    tmp_path: Path, telegram_server: FakeTelegramServer
) -> None:
    server = telegram_server
    alice, bob = 111, 222
    pushed = [
        (alice, await server.push_message("a1", chat_id=alice, user_id=alice)),
        (bob, await server.push_message("b1", chat_id=bob, user_id=bob)),
        (alice, await server.push_message("slow a2", chat_id=alice, user_id=alice)),
        (bob, await server.push_message("b2", chat_id=bob, user_id=bob)),
        (alice, await server.push_message("a3", chat_id=alice, user_id=alice)),
    ]
    engine = HoldingEngine()
    async with build_bot(tmp_path, server, engine, settings={"shutdown_grace_s": 0.1}) as first_run:
        adapter = create_adapter(first_run.platform_context())
        await adapter.start()
        # a1, b1 and b2 are answered; a2 hangs in generation and a3 waits behind it in Alice's chat.
        await server.wait_for(lambda: len(server.state.sent) == 3)
        # All five were stored on arrival, so the offset passed them although two are unanswered.
        assert first_run.store.get_state(OFFSET_STATE_KEY) == "5"
        await adapter.stop()
        assert [row.status for row in stored(first_run, alice) if row.role == "user"] == [
            "answered",
            "received",
            "received",
        ]

    async with build_bot(tmp_path, server) as second_run, create_adapter(second_run.platform_context()):
        await server.wait_for(lambda: len(server.state.sent) == 5)
        await asyncio.sleep(0.2)
        assert second_run.store.get_state(OFFSET_STATE_KEY) == "5"
        for chat in (alice, bob):
            rows = stored(second_run, chat)
            assert {row.status for row in rows if row.role == "user"} == {"answered"}
            assert {row.status for row in rows if row.role == "assistant"} == {"sent"}
    replied_to = sorted((message.chat_id, message.reply_to_message_id) for message in server.state.sent)
    assert replied_to == sorted((chat, message_id) for chat, (_, message_id) in pushed)


async def test_malformed_update_is_logged_and_skipped_without_stopping_the_bot(
    adapter: TelegramAdapter,
    telegram_server: FakeTelegramServer,
    bot_app: BotApp,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad_id = await telegram_server.push_update({"message": {"message_id": 5, "text": "no chat, no date"}})
    await telegram_server.push_message("a normal message after it")
    await telegram_server.wait_for(lambda: telegram_server.state.sent)
    assert f"update {bad_id}" in caplog.text and "skipped" in caplog.text
    await telegram_server.wait_for(lambda: bot_app.store.get_state(OFFSET_STATE_KEY) == str(bad_id + 1))


async def test_edits_stickers_service_messages_and_bots_never_crash_or_get_answers(
    adapter: TelegramAdapter, telegram_server: FakeTelegramServer, bot_app: BotApp
) -> None:
    server = telegram_server
    _, original = await server.push_message("@social_test_bot hi", chat_id=GROUP, chat_type="supergroup")
    await server.wait_for(lambda: len(server.state.sent) == 1)
    edited = {
        "message_id": original,
        "date": int(time.time()),
        "edit_date": int(time.time()),
        "chat": {"id": GROUP, "type": "supergroup", "title": "Test group"},
        "from": {"id": 111, "is_bot": False, "first_name": "Alice"},
        "text": "@social_test_bot hello",
    }
    await server.push_update({"edited_message": edited})
    await server.push_message(
        None,
        chat_id=GROUP,
        chat_type="supergroup",
        extra={"new_chat_members": [{"id": 5, "is_bot": False, "first_name": "Carol"}]},
    )
    await server.push_message("@social_test_bot beep", chat_id=GROUP, chat_type="supergroup", user_id=999, is_bot=True)
    last, _ = await server.push_message(
        None,
        chat_id=GROUP,
        chat_type="supergroup",
        extra={
            "sticker": {
                "file_id": "S1",
                "file_unique_id": "u",
                "width": 1,
                "height": 1,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
                "emoji": "🙂",
            }
        },
    )
    await server.wait_for(lambda: bot_app.store.get_state(OFFSET_STATE_KEY) == str(last))
    await server.wait_for(lambda: all(row.status != "received" for row in stored(bot_app, GROUP)))
    assert len(server.state.sent) == 1
    users = [(row.text, row.status) for row in stored(bot_app, GROUP) if row.role == "user"]
    assert users == [("@social_test_bot hello", "answered"), ("@social_test_bot beep", "ignored"), ("", "ignored")]


async def test_fifty_users_sending_ten_messages_each_are_all_stored_and_answered(
    adapter: TelegramAdapter, telegram_server: FakeTelegramServer, bot_app: BotApp
) -> None:
    users, per_user = 50, 10
    started = time.monotonic()
    for round_number in range(per_user):
        for user in range(users):
            chat = 10_000 + user
            await telegram_server.push_message(f"message {round_number} from {user}", chat_id=chat, user_id=chat)
    total = users * per_user
    await telegram_server.wait_for(lambda: len(telegram_server.state.sent) >= total, timeout=120)
    elapsed = time.monotonic() - started
    answered = len(telegram_server.state.sent)
    print(f"\ntelegram load: messages={total} answered={answered} elapsed_s={elapsed:.2f}")
    assert answered == total
    for user in range(users):
        rows = stored(bot_app, 10_000 + user)
        assert [row.status for row in rows if row.role == "user"] == ["answered"] * per_user
        replies = telegram_server.replies_to(10_000 + user)
        user_ids = [int(row.platform_message_id) for row in rows if row.role == "user"]
        assert [reply.reply_to_message_id for reply in replies] == user_ids  # in order within a chat


async def secret_command(turn: TurnContext, args: str) -> str:
    return "the secret is flour"


async def test_admin_only_command_is_refused_to_members_and_allowed_to_chat_administrators(
    adapter: TelegramAdapter, telegram_server: FakeTelegramServer, bot_app: BotApp
) -> None:
    bot_app.commands.add(Command("secret", "admins only", secret_command, admin_only=True))
    telegram_server.set_administrators(GROUP, [444])
    await telegram_server.push_message("/secret", chat_id=GROUP, chat_type="supergroup", user_id=333)
    await telegram_server.wait_for(lambda: len(telegram_server.state.sent) == 1)
    await telegram_server.push_message("/secret@social_test_bot", chat_id=GROUP, chat_type="supergroup", user_id=444)
    await telegram_server.wait_for(lambda: len(telegram_server.state.sent) == 2)
    assert [message.text for message in telegram_server.state.sent] == [
        "Only admins can use /secret.",
        "the secret is flour",
    ]
    # In a private chat only configured ids count, so the group admin is refused there.
    await telegram_server.push_message("/secret", chat_id=444, user_id=444)
    await telegram_server.wait_for(lambda: len(telegram_server.state.sent) == 3)
    assert telegram_server.state.sent[-1].text == "Only admins can use /secret."
    assert telegram_server.state.calls.count("getChatAdministrators") == 1  # cached


async def test_configured_admin_id_is_an_admin_in_private_chats(
    tmp_path: Path, telegram_server: FakeTelegramServer
) -> None:
    app = build_bot(tmp_path, telegram_server, bot_extra='admin_user_ids = ["telegram:555"]')
    app.commands.add(Command("secret", "admins only", secret_command, admin_only=True))
    async with app, create_adapter(app.platform_context()):
        await telegram_server.push_message("/secret", chat_id=555, user_id=555)
        await telegram_server.wait_for(lambda: telegram_server.state.sent)
    assert telegram_server.state.sent[0].text == "the secret is flour"


async def test_commands_are_registered_with_admin_only_ones_for_administrators(
    tmp_path: Path, telegram_server: FakeTelegramServer
) -> None:
    app = build_bot(tmp_path, telegram_server)
    app.commands.add(Command("secret", "admins only", secret_command, admin_only=True))
    async with app, create_adapter(app.platform_context()):
        pass
    public, admins = telegram_server.state.commands
    assert public["scope"] is None and admins["scope"] == {"type": "all_chat_administrators"}
    assert {"command": "start", "description": "say hello"} in public["commands"]
    assert "secret" not in {c["command"] for c in public["commands"]}
    assert "secret" in {c["command"] for c in admins["commands"]}


async def test_start_command_greets(adapter: TelegramAdapter, telegram_server: FakeTelegramServer) -> None:
    await telegram_server.push_message("/start")
    await telegram_server.wait_for(lambda: telegram_server.state.sent)
    assert "Alice" in telegram_server.state.sent[0].text


async def test_sender_posts_to_channels_and_carries_out_moderation_actions(
    adapter: TelegramAdapter, telegram_server: FakeTelegramServer, bot_app: BotApp
) -> None:
    sender = bot_app.senders["telegram"]
    assert sender.platform == "telegram"
    ids = await sender.send(
        OutgoingMessage(ConversationKey("telegram", "@bakery_news"), "Fresh bread at 7!", kind="post")
    )
    assert ids == [str(telegram_server.state.sent[0].message_id)]
    assert telegram_server.state.sent[0].chat_id == "@bakery_news"
    group = ConversationKey("telegram", str(GROUP))
    before = int(time.time())
    await sender.perform(PlatformAction("delete_message", group, message_id="42"))
    await sender.perform(PlatformAction("timeout_user", group, user_id="333", duration_s=600))
    await sender.perform(PlatformAction("lift_timeout", group, user_id="333"))
    (deleted, details), (_, muted), (_, lifted) = telegram_server.state.actions
    assert (deleted, details) == ("deleteMessage", {"chat_id": GROUP, "message_id": 42})
    assert muted["permissions"]["can_send_messages"] is False
    assert before + 595 <= muted["until_date"] <= before + 605
    assert lifted["permissions"]["can_send_messages"] is True and lifted["until_date"] is None


async def test_chat_not_found_and_blocked_bot_are_not_retryable_delivery_errors(
    adapter: TelegramAdapter, telegram_server: FakeTelegramServer
) -> None:
    for status in (400, 403):
        telegram_server.fail_next("sendMessage", status)
        with pytest.raises(DeliveryError) as caught:
            await adapter.send(OutgoingMessage(ConversationKey("telegram", "999"), "hi"))
        assert not caught.value.retryable
        assert telegram_server.token not in str(caught.value)


async def test_reply_that_could_not_be_sent_is_delivered_on_the_next_start(
    tmp_path: Path, telegram_server: FakeTelegramServer
) -> None:
    telegram_server.fail_next("sendMessage", 500, times=4)  # more than network_retries
    async with build_bot(tmp_path, telegram_server) as app:
        async with create_adapter(app.platform_context()):
            await telegram_server.push_message("hello?")
            await telegram_server.wait_for(lambda: stored(app, 111)[-1:] and stored(app, 111)[-1].status == "failed")
        assert telegram_server.state.sent == []
        async with create_adapter(app.platform_context()):
            await telegram_server.wait_for(lambda: stored(app, 111)[-1].status == "sent")
    assert len(telegram_server.state.sent) == 1


async def test_a_long_reply_cut_off_mid_delivery_resumes_without_posting_a_chunk_twice(
    tmp_path: Path, telegram_server: FakeTelegramServer
) -> None:
    sentences = [f"Sentence number {index} says something useful about the bakery." for index in range(200)]
    long_reply = " ".join(sentences)[:10_000]
    telegram_server.fail_next("sendMessage", 500, times=4, after=1)  # chunk 1 lands, then Telegram is down
    app = build_bot(
        tmp_path, telegram_server, ScriptedEngine([long_reply]), extra="[generation]\nmax_new_tokens = 4096"
    )
    async with app:
        async with create_adapter(app.platform_context()):
            await telegram_server.push_message("tell me everything")
            await telegram_server.wait_for(lambda: stored(app, 111)[-1:] and stored(app, 111)[-1].status == "failed")
        assert len(telegram_server.state.sent) == 1
        async with create_adapter(app.platform_context()):
            await telegram_server.wait_for(lambda: stored(app, 111)[-1].status == "sent")
    chunks = [chunk.text for chunk in telegram_server.state.sent]
    assert len(chunks) == 3 and len(set(chunks)) == 3
    assert " ".join(chunks) == long_reply.strip()


async def test_the_token_never_appears_in_logs(
    tmp_path: Path, telegram_server: FakeTelegramServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # httpx logs each request URL (the token is part of it); an earlier in-process CLI run may have raised
    # this logger to WARNING, which would make the check below pass without looking at a single URL.
    caplog.set_level(logging.DEBUG, logger="httpx")
    async with build_bot(tmp_path, telegram_server) as app, create_adapter(app.platform_context()):
        await telegram_server.push_message("hi")
        await telegram_server.wait_for(lambda: telegram_server.state.sent)
    assert "getUpdates" in caplog.text
    assert telegram_server.token not in caplog.text


async def test_missing_token_is_a_clear_error(tmp_path: Path, telegram_server: FakeTelegramServer) -> None:
    app = build_bot(tmp_path, telegram_server)
    app.config = app.config.model_copy(
        update={"secrets": app.config.secrets.model_copy(update={"telegram_bot_token": None})}
    )
    with pytest.raises(TelegramAdapterError, match="TELEGRAM_BOT_TOKEN"):
        create_adapter(app.platform_context())
    app.store.close()


async def test_rejected_token_fails_start_with_an_actionable_error(
    tmp_path: Path, telegram_server: FakeTelegramServer
) -> None:
    async with build_bot(tmp_path, telegram_server) as app:
        adapter = TelegramAdapter(app.platform_context(), "999:WRONG")
        with pytest.raises(TelegramAdapterError, match="cannot connect") as caught:
            await adapter.start()
        assert "WRONG" not in str(caught.value) and not caught.value.retryable


async def test_typing_is_refreshed_while_generating_and_stops_with_the_reply(
    tmp_path: Path, telegram_server: FakeTelegramServer
) -> None:
    engine = HoldingEngine()
    app = build_bot(tmp_path, telegram_server, engine, settings={"typing_interval_s": 0.05})
    async with app, create_adapter(app.platform_context()):
        await telegram_server.push_message("slow question")
        await telegram_server.wait_for(lambda: len(telegram_server.state.chat_actions) >= 3)
        assert telegram_server.state.sent == []
        engine.release.set()
        await telegram_server.wait_for(lambda: telegram_server.state.sent)
        typing_when_sent = len(telegram_server.state.chat_actions)
        await asyncio.sleep(0.2)
    assert len(telegram_server.state.chat_actions) == typing_when_sent
    assert set(telegram_server.state.chat_actions) == {(111, "typing")}
