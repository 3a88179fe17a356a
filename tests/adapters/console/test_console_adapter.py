"""The console adapter: lines in, replies out, through the same manager and store as the platforms."""

from __future__ import annotations

import io

from adapters.console import ConsoleAdapter
from bot.app import BotApp
from bot.engine.fake import ScriptedEngine


async def test_each_line_is_answered_and_stored_as_sent(app: BotApp, scripted_engine: ScriptedEngine) -> None:
    scripted_engine.enqueue("Hi! How can I help?", "We open at nine.")
    output = io.StringIO()
    console = ConsoleAdapter(app.platform_context(), io.StringIO("hello\nwhen do you open?\n"), output)
    await console.start()
    assert await console.run() == 2
    assert output.getvalue().splitlines() == ["socialbot> Hi! How can I help?", "socialbot> We open at nine."]
    rows = app.store.messages_for(app.store.conversation_id(console.to_incoming("").conversation))
    assert [(row.role, row.status) for row in rows] == [
        ("user", "answered"),
        ("assistant", "sent"),
        ("user", "answered"),
        ("assistant", "sent"),
    ]


async def test_quit_ends_the_chat(app: BotApp) -> None:
    console = ConsoleAdapter(app.platform_context(), io.StringIO("/quit\nnever read\n"), io.StringIO())
    assert await console.run() == 0


async def test_operator_is_admin_and_commands_work(app: BotApp) -> None:
    output = io.StringIO()
    console = ConsoleAdapter(app.platform_context(), io.StringIO("/help\n"), output)
    await console.run()
    assert "/reset" in output.getvalue()
