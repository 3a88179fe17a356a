"""End to end with the real bundled model, through the console adapter: facts stated, model turns in between,
a restart, and the follow-ups answered from memory; the model's prompt carries the facts."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from adapters.console import ConsoleAdapter
from bot.app import BotApp
from bot.config import load_config
from tests.support import write_config

pytestmark = pytest.mark.model

CONFIG = "[generation]\nmax_new_tokens = 12\n[rules]\nuser_capacity = 0\nchat_capacity = 0\n"


async def _chat(tmp_path: Path, lines: list[str]) -> list[str]:
    app = BotApp.build(load_config(write_config(tmp_path, CONFIG), environ={}))
    await app.start()
    try:
        output = io.StringIO()
        console = ConsoleAdapter(app, io.StringIO("".join(line + "\n" for line in lines)), output, user_name="anna")
        await console.start()
        await console.run()
        return [line for line in output.getvalue().splitlines() if line]
    finally:
        await app.stop()


async def test_the_real_model_bot_remembers_across_turns_and_a_restart_on_the_console(tmp_path: Path) -> None:
    first = await _chat(
        tmp_path,
        ["Hi, my name is Anna.", "My order number is ZX-5521.", "Can you tell me a fun fact?", "What's my name?"],
    )
    assert "Anna" in first[0]
    assert first[-1].endswith(")."), first
    assert "Your name is Anna" in first[-1]
    second = await _chat(tmp_path, ["thanks!", "What was my order number?", "/memory"])
    assert "Your order number is ZX-5521" in second[1]
    assert "1. Your name is Anna" in "\n".join(second[2:])
