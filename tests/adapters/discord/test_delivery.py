"""Delivery through Discord's REST API: rate limits, failures kept as owed, nonces, moderation actions."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from adapters.discord import DiscordAdapterError, create_adapter
from bot.delivery import DeliveryError
from bot.engine.base import GenerationRequest, GenerationResult
from bot.engine.fake import ScriptedEngine
from bot.messages import ConversationKey, OutgoingMessage, PlatformAction
from bot.store import FAILED, IGNORED, SENT
from tests.adapters.discord.conftest import TOKEN, FakeDiscord, StartBot, eventually
from tests.support import build_test_app


class GatedEngine(ScriptedEngine):
    """Generation waits until the test opens the gate, so events can happen while a reply is pending."""

    def __init__(self) -> None:
        super().__init__(["late reply"])
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        self.waiting.set()
        await self.gate.wait()
        return await super().generate(request)


async def test_rate_limited_send_is_retried_by_discord_py_and_delivered_once(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    bot = await start_bot(engine=ScriptedEngine(["after the wait"]))
    dm = fake_discord.alice_dm
    fake_discord.rest.rate_limit_next("POST", rf"/channels/{dm['id']}/messages", retry_after=0.2)
    await fake_discord.post(fake_discord.alice, "hello", channel=dm)
    await eventually(lambda: [r for r in bot.replies() if r.status == SENT])
    attempts = fake_discord.rest.calls("POST", rf"/channels/{dm['id']}/messages")
    assert len(attempts) == 2, "one 429, one retry"
    assert [m["content"] for m in fake_discord.rest.created_messages] == ["after the wait"]


async def test_refused_send_is_stored_as_owed_and_sent_by_the_next_flush(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    bot = await start_bot(engine=ScriptedEngine(["kept for later"]))
    dm = fake_discord.alice_dm
    fake_discord.rest.fail_next(
        "POST", rf"/channels/{dm['id']}/messages", 403, {"message": "Missing Access", "code": 50001}
    )
    await fake_discord.post(fake_discord.alice, "hello", channel=dm)
    failed = await eventually(lambda: [r for r in bot.replies() if r.status == FAILED])
    assert fake_discord.rest.created_messages == []
    await bot.adapter.flush_undelivered()
    assert [m["content"] for m in fake_discord.rest.created_messages] == ["kept for later"]
    assert bot.app.store.get_message(failed[0].id).status == SENT


async def test_a_long_reply_cut_off_mid_delivery_resumes_without_posting_a_chunk_twice(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    long_reply = " ".join(f"Paragraph {index} of the rules, explained at some length." for index in range(90))
    bot = await start_bot(engine=ScriptedEngine([long_reply]), config_text="[generation]\nmax_new_tokens = 4096")
    dm = fake_discord.alice_dm
    fake_discord.rest.fail_next(
        "POST", rf"/channels/{dm['id']}/messages", 403, {"message": "Missing Access", "code": 50001}, after=1
    )
    await fake_discord.post(fake_discord.alice, "tell me all the rules", channel=dm)
    failed = await eventually(lambda: [r for r in bot.replies() if r.status == FAILED])
    assert len(fake_discord.rest.created_messages) == 1
    await bot.adapter.flush_undelivered()
    chunks = [m["content"] for m in fake_discord.rest.created_messages]
    assert len(chunks) == 3 and len(set(chunks)) == 3
    assert " ".join(chunks) == long_reply
    nonces = [payload["nonce"] for payload in fake_discord.rest.sent_messages(dm["id"])]
    assert len(nonces) == 4 and len(set(nonces)) == 3, "the refused chunk is retried with its own nonce only"
    assert bot.app.store.get_message(failed[0].id).status == SENT


async def test_send_with_idempotency_key_uses_a_deterministic_enforced_nonce(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    bot = await start_bot()
    post = OutgoingMessage(
        ConversationKey("discord", fake_discord.random["id"]),
        "@everyone weekly post",
        kind="post",
        idempotency_key="schedule:7:2024-06-01",
    )
    first = await bot.adapter.send(post)
    second = await bot.adapter.send(post)
    assert first == second, "Discord returned the same message for the same nonce"
    payloads = fake_discord.rest.sent_messages(fake_discord.random["id"])
    assert payloads[0]["nonce"] == payloads[1]["nonce"] and payloads[0]["enforce_nonce"] is True
    assert payloads[0]["allowed_mentions"] == {"parse": []}
    assert len(fake_discord.rest.created_messages) == 1


async def test_send_to_a_missing_channel_raises_a_non_retryable_delivery_error(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    bot = await start_bot()
    fake_discord.rest.fail_next("POST", r"/channels/\d+/messages", 404, {"message": "Unknown Channel", "code": 10003})
    with pytest.raises(DeliveryError) as raised:
        await bot.adapter.send(OutgoingMessage(ConversationKey("discord", "123"), "hi"))
    assert raised.value.retryable is False
    assert TOKEN not in str(raised.value)


async def test_reply_to_a_message_deleted_while_generating_is_not_sent(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    engine = GatedEngine()
    bot = await start_bot(engine=engine)
    dm = fake_discord.alice_dm
    question = await fake_discord.post(fake_discord.alice, "nevermind", channel=dm)
    await asyncio.wait_for(engine.waiting.wait(), 5)
    await fake_discord.gateway.dispatch("MESSAGE_DELETE", {"id": question["id"], "channel_id": dm["id"]})
    await eventually(lambda: bot.app.dispatcher.was_deleted("discord", question["id"]))
    engine.gate.set()
    await eventually(lambda: [r for r in bot.replies() if r.status == IGNORED])
    assert fake_discord.rest.created_messages == []


async def test_platform_actions_delete_timeout_and_lift_timeout(start_bot: StartBot, fake_discord: FakeDiscord) -> None:
    bot = await start_bot()
    general = ConversationKey("discord", fake_discord.general["id"])
    alice = fake_discord.alice["id"]
    message = await fake_discord.post(fake_discord.alice, "spam")
    await bot.adapter.perform(PlatformAction("delete_message", general, message_id=message["id"], reason="spam"))
    await bot.adapter.perform(PlatformAction("timeout_user", general, user_id=alice, duration_s=600))
    await bot.adapter.perform(PlatformAction("lift_timeout", general, user_id=alice))
    assert fake_discord.rest.calls("DELETE", rf"/channels/{general.chat_id}/messages/{message['id']}")
    patches = fake_discord.rest.calls("PATCH", rf"/guilds/\d+/members/{alice}")
    assert patches[0].body["communication_disabled_until"] is not None
    assert patches[1].body["communication_disabled_until"] is None
    with pytest.raises(DeliveryError) as raised:
        await bot.adapter.perform(PlatformAction("timeout_user", general, user_id="999", duration_s=60))
    assert raised.value.retryable is False


async def test_create_adapter_without_a_token_says_how_to_set_it(tmp_path: Path) -> None:
    app = build_test_app(tmp_path)
    with pytest.raises(DiscordAdapterError, match="DISCORD_BOT_TOKEN"):
        create_adapter(app.platform_context())
    app.store.close()


async def test_rejected_token_fails_start_without_echoing_the_token(tmp_path: Path, fake_discord: FakeDiscord) -> None:
    app = build_test_app(tmp_path, environ={"DISCORD_BOT_TOKEN": "wrong-secret-token"})
    adapter = create_adapter(app.platform_context())
    with pytest.raises(DiscordAdapterError) as raised:
        await adapter.start()
    assert "wrong-secret-token" not in str(raised.value)
    assert "DISCORD_BOT_TOKEN" in str(raised.value)
    app.store.close()


async def test_quick_messages_are_all_stored_on_arrival_while_the_first_is_still_being_answered(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    engine = GatedEngine()
    bot = await start_bot(engine=engine)
    dm = fake_discord.alice_dm
    posted = [await fake_discord.post(fake_discord.alice, f"quick {index}", channel=dm) for index in range(10)]
    await asyncio.wait_for(engine.waiting.wait(), 5)
    await eventually(lambda: all(bot.stored(payload["id"]) is not None for payload in posted))
    assert fake_discord.rest.created_messages == []  # the first one is still being generated
    engine.gate.set()
    # Every one is handled in order (the rules' per-user rate limit answers some with one notice).
    statuses = lambda: [getattr(bot.stored(payload["id"]), "status", "") for payload in posted]  # noqa: E731
    await eventually(lambda: "received" not in statuses(), timeout=15)
    replied_to = [str(m["message_reference"]["message_id"]) for m in fake_discord.rest.created_messages]
    assert replied_to == sorted(replied_to, key=[payload["id"] for payload in posted].index)
