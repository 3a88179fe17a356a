"""The one way out: chunking, recording, owed replies and the redelivery rule, against an in-memory platform."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.app import BotApp
from bot.dispatch.transport import PostRequest, TransportCapabilities
from bot.messages import ConversationKey, OutgoingMessage
from bot.store import PENDING_SEND, RESENT_UNCONFIRMED, SENDING, SENT, UNKNOWN
from tests.bot.dispatch.memory_transport import MemoryTransport
from tests.support import build_test_app

CHAT = ConversationKey("memory", "chat-1")
STAFF = 'staff_platform = "memory"\nstaff_chat_id = "staff"\n'


def owed_reply(app: BotApp, text: str, conversation: ConversationKey = CHAT) -> OutgoingMessage:
    stored = app.store.insert_message(app.store.conversation_id(conversation), "assistant", text, PENDING_SEND)
    return OutgoingMessage(conversation, text, "41", stored)


def started_app(tmp_path: Path, delivery: str = "") -> BotApp:
    return build_test_app(tmp_path, config_text=f"[delivery]\n{delivery}", features=[])


async def test_a_long_reply_is_posted_in_chunks_within_the_limit_and_recorded_sent(tmp_path: Path) -> None:
    async with started_app(tmp_path) as app:
        memory = MemoryTransport()
        app.connect(memory)
        text = " ".join(f"word{index}" for index in range(40))
        reply = owed_reply(app, text)
        assert await app.dispatcher.deliver(reply)
        assert all(len(chunk) <= 50 for chunk in memory.texts()) and len(memory.posted) > 1
        assert " ".join(memory.texts()) == text
        stored = app.store.get_message(reply.stored_message_id or 0)
        assert (stored.status, stored.platform_message_id) == (SENT, "m1")


async def test_a_send_the_platform_cannot_deduplicate_is_recorded_as_attempted_before_the_call(
    tmp_path: Path,
) -> None:
    async with started_app(tmp_path) as app:
        seen: list[str] = []

        async def look(request: PostRequest) -> None:
            seen.append(app.store.get_message(reply.stored_message_id or 0).status)

        memory = MemoryTransport(before_post=look)
        app.connect(memory)
        reply = owed_reply(app, "hello")
        await app.dispatcher.deliver(reply)
        assert seen == [SENDING]


async def test_an_attempted_unconfirmed_reply_is_resent_once_at_least_once(tmp_path: Path) -> None:
    async with started_app(tmp_path) as app:
        reply = owed_reply(app, "maybe posted")
        app.store.mark_sending(reply.stored_message_id or 0, 0)  # the bot died inside the send call
        memory = MemoryTransport()
        app.dispatcher.attach(memory)
        assert await app.dispatcher.deliver_owed("memory") == 1
        assert memory.texts() == ["maybe posted"]
        stored = app.store.get_message(reply.stored_message_id or 0)
        assert stored.status == SENT and (stored.details or {}).get(RESENT_UNCONFIRMED)
        app.store.mark_sending(stored.id, 0)  # ...and died inside the resend too: never a third post
        assert await app.dispatcher.deliver_owed("memory") == 0
        assert app.store.get_message(stored.id).status == UNKNOWN
        assert memory.texts() == ["maybe posted"]


async def test_an_attempted_unconfirmed_reply_is_never_resent_at_most_once_and_staff_are_told_once(
    tmp_path: Path,
) -> None:
    async with started_app(tmp_path, f'redelivery = "at_most_once"\n{STAFF}') as app:
        reply = owed_reply(app, "maybe posted")
        app.store.mark_sending(reply.stored_message_id or 0, 0)
        memory = MemoryTransport(capabilities=TransportCapabilities(max_text_length=500))
        app.dispatcher.attach(memory)
        assert await app.dispatcher.deliver_owed("memory") == 0
        await app.dispatcher.deliver_owed("memory")
        assert app.store.get_message(reply.stored_message_id or 0).status == UNKNOWN
        [notice] = memory.posted
        assert notice.conversation.chat_id == "staff" and "may or may not have been posted" in notice.text


async def test_a_platform_that_deduplicates_gets_the_same_keys_when_a_reply_is_sent_again(tmp_path: Path) -> None:
    async with started_app(tmp_path) as app:
        memory = MemoryTransport(capabilities=TransportCapabilities(max_text_length=50, dedupes_sends=True))
        app.dispatcher.attach(memory)
        reply = owed_reply(app, "once only")
        await app.dispatcher.send(reply)
        await app.dispatcher.send(reply)  # e.g. after a crash before the send was recorded
        assert memory.texts() == ["once only"]
        assert app.store.get_message(reply.stored_message_id or 0).status == PENDING_SEND  # send() records nothing


async def test_a_message_for_a_platform_not_connected_waits_untouched_and_goes_out_once_when_it_connects(
    tmp_path: Path,
) -> None:
    async with started_app(tmp_path) as app:
        notice = owed_reply(app, "new ticket #1", ConversationKey("memory", "staff"))
        assert not await app.deliver(notice)
        waiting = app.store.get_message(notice.stored_message_id or 0)
        assert waiting.status == PENDING_SEND and app.store.db.execute(
            "select delivery_attempts from messages where id = ?", [waiting.id]
        ).fetchone() == (0,)
        memory = MemoryTransport()
        app.connect(memory)
        await app.dispatcher.deliver_owed("memory")
        await app.dispatcher.deliver_owed("memory")
        assert memory.texts() == ["new ticket #1"]


async def test_a_failed_reply_stays_owed_and_resumes_after_the_chunks_that_got_through(tmp_path: Path) -> None:
    async with started_app(tmp_path) as app:
        memory = MemoryTransport()
        app.dispatcher.attach(memory)
        text = " ".join(f"part{index:02d}" for index in range(20))
        reply = owed_reply(app, text)

        async def break_second(request: PostRequest) -> None:
            if request.chunk_start > 0 and memory.before_post is not None:
                memory.before_post = None
                memory.fail_next = 1

        memory.before_post = break_second
        assert not await app.dispatcher.deliver(reply)
        assert len(memory.posted) == 1
        await app.dispatcher.deliver_owed("memory")
        assert " ".join(memory.texts()) == text and len(set(memory.texts())) == len(memory.texts())


async def test_sends_the_platform_cannot_deduplicate_go_one_at_a_time_so_a_crash_leaves_one_in_doubt(
    tmp_path: Path,
) -> None:
    async with started_app(tmp_path) as app:
        in_doubt: list[int] = []

        async def count_in_doubt(request: PostRequest) -> None:
            rows = app.store.db.execute("select count(*) from messages where status = 'sending'").fetchone()
            in_doubt.append(rows[0])
            await asyncio.sleep(0.01)

        memory = MemoryTransport(before_post=count_in_doubt)
        app.dispatcher.attach(memory)
        replies = [owed_reply(app, f"reply {index}", ConversationKey("memory", f"chat-{index}")) for index in range(5)]
        await asyncio.gather(*(app.dispatcher.deliver(reply) for reply in replies))
        assert in_doubt == [1] * 5
        assert sorted(memory.texts()) == [f"reply {index}" for index in range(5)]
