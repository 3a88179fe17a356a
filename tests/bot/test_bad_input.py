"""Hostile, empty or huge input: a sane reply or a logged refusal, never a crash, never a lost message."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import BotApp
from bot.engine.fake import ScriptedEngine
from bot.sanitize import clean_text
from tests.support import incoming

BAD_INPUTS = {
    "empty": "",
    "whitespace": " \n\t  ",
    "huge": "spam " * 20_000,
    "control characters": "hi\x00\x07\x1b[31mred\x7f",
    "lone surrogates": "broken \ud800 text \udfff",
    "right-to-left override": "price \u202e001$ \u202c ok?",
    "zero-width": "h\u200be\u200dl\ufeffp",
    "only an emoji": "🙂",
    "binary-looking": bytes(range(256)).decode("latin-1"),
}


@pytest.mark.parametrize("text", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
async def test_bad_input_is_stored_and_answered_sanely(app: BotApp, text: str) -> None:
    replies = await app.manager.handle(incoming(text))
    assert len(replies) == 1 and replies[0].text.strip()
    rows = app.store.messages_for(app.store.conversation_id(replies[0].conversation))
    assert rows[0].role == "user" and rows[0].status == "answered"


async def test_huge_input_is_truncated_before_the_model(app: BotApp, scripted_engine: ScriptedEngine) -> None:
    await app.manager.handle(incoming("word " * 50_000))
    prompt_user_text = scripted_engine.requests[-1].messages[-1].content
    assert len(prompt_user_text) <= app.config.settings.bot.max_input_chars


async def test_empty_message_gets_a_fixed_reply_without_the_model(app: BotApp, scripted_engine: ScriptedEngine) -> None:
    replies = await app.manager.handle(incoming("   "))
    assert "text" in replies[0].text
    assert scripted_engine.requests == []


def test_clean_text_removes_invisible_and_control_characters() -> None:
    assert clean_text("a\u200bb\x00c\u202ed", 100) == ("abcd", False)
    assert clean_text("x" * 10, 4) == ("xxxx", True)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(text=st.text(max_size=2000))
async def test_any_text_never_crashes_the_manager(app: BotApp, text: str) -> None:
    replies = await app.manager.handle(incoming(text))
    assert all(isinstance(reply.text, str) and reply.text for reply in replies)
