"""Helpers for tests: build a bot from a temporary config, make incoming messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bot.app import BotApp
from bot.config import load_config
from bot.engine.base import Engine, GenerationRequest
from bot.engine.fake import ScriptedEngine
from bot.messages import Author, ConversationKey, IncomingMessage
from bot.moderation.gate import GatePolicy, ModerationGate


def write_config(tmp_path: Path, text: str = "") -> Path:
    """A config on a temporary database. The turn policy is off unless `text` has a `[policy]` section: tests of
    the manager, adapters and features see the plain pipeline; tests/bot/policy turn it on."""
    path = tmp_path / "socialbot.toml"
    policy = "" if "[policy]" in text else "\n[policy]\nenabled = false\n"
    path.write_text(f'[bot]\ndatabase = "bot.db"\n{text}{policy}', encoding="utf-8")
    return path


def build_test_app(
    tmp_path: Path,
    engine: Engine | None = None,
    config_text: str = "",
    gate: ModerationGate | None = None,
    features: list[Any] | None = None,
    environ: dict[str, str] | None = None,
) -> BotApp:
    """A bot on a temporary database; by default a scripted engine and a rules-only gate (fast)."""
    config = load_config(write_config(tmp_path, config_text), environ=environ or {})
    return BotApp.build(
        config,
        engine=engine or ScriptedEngine(),
        gate=gate or ModerationGate(GatePolicy()),
        features=features,
    )


_counter = iter(range(1, 10**9))


def incoming(
    text: str,
    platform: str = "console",
    chat_id: str = "chat-1",
    user_id: str = "user-1",
    thread_id: str = "",
    is_direct: bool = True,
    mentions_bot: bool = False,
    message_id: str | None = None,
    is_admin: bool = False,
    is_bot: bool = False,
    display_name: str = "Alice",
) -> IncomingMessage:
    """An incoming message with sensible defaults (a DM from Alice)."""
    return IncomingMessage(
        conversation=ConversationKey(platform, chat_id, thread_id),
        author=Author(user_id, display_name=display_name, username=display_name.lower(), is_bot=is_bot),
        text=text,
        platform_message_id=message_id if message_id is not None else str(next(_counter)),
        is_direct=is_direct,
        mentions_bot=mentions_bot,
        author_is_admin=is_admin,
    )


class SlowStreamingEngine(ScriptedEngine):
    """Streams its scripted reply one word every 80 ms, like a model generating."""

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        async for piece in super().stream(request):
            await asyncio.sleep(0.08)
            yield piece


# Texts that stress an encoder's input handling: empty, emoji, a URL, Chinese, 300 words (truncated), mixed scripts.
ENCODER_EDGE_TEXTS = [
    "",
    "hi",
    "I love this 😀🔥🎉 so much!!!",
    "see https://example.com/orders?id=42&x=%20 now",
    "我的订单在哪里？请尽快回复。",
    " ".join(f"word{index} and more" for index in range(100)),  # 300 words: truncated
    "@USER you are such a clown lol",
    "Привет, как дела? مرحبا كيف حالك",
]
