"""The one way in: stored before anything else, replays recognised once, recovery and a graceful stop."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app import BotApp
from bot.config import BotSection
from bot.dispatch.transport import TransportCapabilities
from bot.engine.base import GenerationRequest, GenerationResult
from bot.engine.fake import ScriptedEngine
from bot.messages import ConversationKey
from bot.store import ANSWERED, IGNORED, INCOMING_FLAGS, PENDING_SEND, RECEIVED
from tests.bot.dispatch.memory_transport import MemoryTransport
from tests.support import build_test_app, incoming

ERROR_TEXT = BotSection().error_reply


class HeldEngine(ScriptedEngine):
    """Generates only once `release` is set; `generating` is set when the first generation begins."""

    def __init__(self) -> None:
        super().__init__(default_reply="answer")
        self.release = asyncio.Event()
        self.generating = asyncio.Event()

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        self.generating.set()
        await self.release.wait()
        return await super().generate(request)


def memory_app(tmp_path: Path, engine: ScriptedEngine | None = None, delivery: str = "") -> BotApp:
    grace = "" if "shutdown_grace_s" in delivery else "shutdown_grace_s = 0.2\n"
    return build_test_app(tmp_path, engine=engine, config_text=f"[delivery]\n{grace}{delivery}", features=[])


def memory_platform() -> MemoryTransport:
    return MemoryTransport(capabilities=TransportCapabilities(max_text_length=1000, can_show_typing=True))


def rows(app: BotApp, chat: str = "chat-1") -> list[tuple[str, str]]:
    conversation = app.store.conversation_id(ConversationKey("memory", chat))
    return [(row.role, row.status) for row in app.store.messages_for(conversation)]


async def test_a_message_is_stored_before_receive_returns_and_answered_after(tmp_path: Path) -> None:
    engine = HeldEngine()
    async with memory_app(tmp_path, engine) as app:
        memory = memory_platform()
        app.connect(memory)
        await app.inbox.receive(incoming("hello", platform="memory"))
        assert rows(app) == [("user", RECEIVED)]
        engine.release.set()
        await app.inbox.wait_idle(ConversationKey("memory", "chat-1").session_id)
        assert rows(app) == [("user", ANSWERED), ("assistant", "sent")]
        assert memory.texts() == ["answer"]


async def test_a_replayed_message_is_answered_once_for_every_platform(tmp_path: Path) -> None:
    async with memory_app(tmp_path) as app:
        memory = memory_platform()
        app.connect(memory)
        message = incoming("hello", platform="memory", message_id="7")
        await app.inbox.receive(message)
        await app.inbox.receive(message)  # still queued: not queued twice
        await app.inbox.wait_idle(message.conversation.session_id)
        await app.inbox.receive(message)  # answered: recognised as a replay
        await app.inbox.wait_idle(message.conversation.session_id)
        assert len(memory.posted) == 1
        assert rows(app) == [("user", ANSWERED), ("assistant", "sent")]


async def test_messages_of_one_conversation_are_stored_at_once_and_answered_in_order(tmp_path: Path) -> None:
    engine = HeldEngine()
    async with memory_app(tmp_path, engine) as app:
        memory = memory_platform()
        app.connect(memory)
        engine.enqueue("first", "second", "third")
        for index in range(3):
            await app.inbox.receive(incoming(f"question {index}", platform="memory"))
        assert [status for role, status in rows(app)] == [RECEIVED] * 3  # all stored while the first waits
        engine.release.set()
        await app.inbox.wait_idle(ConversationKey("memory", "chat-1").session_id)
        assert memory.texts() == ["first", "second", "third"]


async def test_a_stop_mid_generation_sends_no_error_text_and_the_next_start_answers(tmp_path: Path) -> None:
    engine = HeldEngine()
    async with memory_app(tmp_path, engine) as app:
        memory = memory_platform()
        app.connect(memory)
        await app.inbox.receive(incoming("slow question", platform="memory"))
        await app.inbox.receive(incoming("queued behind it", platform="memory"))
        await engine.generating.wait()
        assert await app.drain() == 1  # the grace period passed with the engine still generating
        assert memory.texts() == []
        assert rows(app) == [("user", RECEIVED), ("user", RECEIVED)]
    async with memory_app(tmp_path) as restarted:
        memory = memory_platform()
        restarted.connect(memory)
        await asyncio.sleep(0.1)
        await restarted.inbox.wait_idle(ConversationKey("memory", "chat-1").session_id)
        assert memory.texts() == ["ok", "ok"]
        assert ERROR_TEXT not in " ".join(memory.texts())
        assert sorted(rows(restarted)) == [("assistant", "sent")] * 2 + [("user", ANSWERED)] * 2


async def test_a_reply_in_flight_finishes_within_the_grace_period(tmp_path: Path) -> None:
    engine = HeldEngine()
    async with memory_app(tmp_path, engine, "shutdown_grace_s = 5\n") as app:
        memory = memory_platform()
        app.connect(memory)
        await app.inbox.receive(incoming("question", platform="memory"))
        await engine.generating.wait()
        asyncio.get_running_loop().call_later(0.1, engine.release.set)
        assert await app.drain() == 0
        assert memory.texts() == ["answer"]


def age_stored_message(app: BotApp, minutes: int, text: str) -> None:
    sent_at = (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()
    app.store.db.execute(
        "update messages set details = json_set(details, ?, ?) where text = ?",
        [f"$.{INCOMING_FLAGS}.sent_at", sent_at, text],
    )


async def test_a_stale_unanswered_message_is_answered_with_an_apology_at_start(tmp_path: Path) -> None:
    async with memory_app(tmp_path) as app:
        app.manager.store_incoming(incoming("are you there?", platform="memory"))
        age_stored_message(app, 45, "are you there?")
    async with memory_app(tmp_path) as restarted:
        memory = memory_platform()
        restarted.connect(memory)
        await asyncio.sleep(0.1)
        await restarted.inbox.wait_idle(ConversationKey("memory", "chat-1").session_id)
        apology = restarted.config.settings.delivery.stale_apology
        assert memory.texts() == [f"{apology} ok"]


async def test_a_stale_unanswered_message_is_skipped_when_configured(tmp_path: Path) -> None:
    async with memory_app(tmp_path, delivery='stale_messages = "skip"\n') as app:
        app.manager.store_incoming(incoming("are you there?", platform="memory"))
        app.manager.store_incoming(incoming("still there?", platform="memory"))
        age_stored_message(app, 45, "are you there?")
    async with memory_app(tmp_path, delivery='stale_messages = "skip"\n') as restarted:
        memory = memory_platform()
        restarted.connect(memory)
        await asyncio.sleep(0.1)
        await restarted.inbox.wait_idle(ConversationKey("memory", "chat-1").session_id)
        assert [status for role, status in rows(restarted) if role == "user"] == [IGNORED, ANSWERED]
        assert memory.texts() == ["ok"]


async def test_a_reply_in_a_chat_where_the_bot_may_not_speak_is_never_posted(tmp_path: Path) -> None:
    async with memory_app(tmp_path) as app:
        memory = memory_platform()
        app.connect(memory)
        message = replace(incoming("/help", platform="memory"), may_reply=False)
        await app.inbox.receive(message)
        await app.inbox.wait_idle(message.conversation.session_id)
        assert memory.posted == []
        assert PENDING_SEND not in [status for _, status in rows(app)]
