"""Features end to end on the fake Telegram: automod actions, rules by chat administrators, human handoff."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.telegram import TelegramAdapter, create_adapter
from bot.app import BotApp
from bot.engine.fake import ScriptedEngine
from bot.moderation.gate import GatePolicy, ModerationGate
from tests.adapters.telegram.conftest import telegram_config
from tests.bot.automod.test_automod import ScoreByWord
from tests.fakes.telegram_api import FakeTelegramServer
from tests.support import build_test_app

GROUP, STAFF = -100111, -100999
ADMIN, MEMBER = 444, 333


@pytest.fixture
async def running(
    tmp_path: Path, telegram_server: FakeTelegramServer
) -> AsyncIterator[tuple[BotApp, TelegramAdapter, ScriptedEngine]]:
    """A bot with every default feature (and a word-scoring classifier) polling the fake Telegram."""
    engine = ScriptedEngine(default_reply="How can I help?")
    extra = f'[kb]\nstaff_platform = "telegram"\nstaff_chat_id = "{STAFF}"\n'
    app = build_test_app(
        tmp_path,
        engine=engine,
        config_text=telegram_config(telegram_server, extra=extra),
        gate=ModerationGate(GatePolicy(input_flag_threshold=0.7), offensive=ScoreByWord()),
        environ={"TELEGRAM_BOT_TOKEN": telegram_server.token},
    )
    await app.start()
    adapter = create_adapter(app.platform_context())
    await adapter.start()
    telegram_server.set_administrators(GROUP, [ADMIN])
    telegram_server.set_administrators(STAFF, [ADMIN])
    yield app, adapter, engine
    await adapter.stop()
    await app.stop()


async def group_says(server: FakeTelegramServer, text: str, user_id: int = MEMBER) -> int:
    _, message_id = await server.push_message(
        text, chat_id=GROUP, chat_type="supergroup", user_id=user_id, first_name="Troll" if user_id == MEMBER else "Ada"
    )
    return message_id


async def test_automod_really_deletes_mutes_and_an_admin_undoes_it(
    running: tuple[BotApp, TelegramAdapter, ScriptedEngine], telegram_server: FakeTelegramServer
) -> None:
    app, _, _ = running
    actions = telegram_server.state.actions
    first = await group_says(telegram_server, "you are awful")
    await telegram_server.wait_for(lambda: ("deleteMessage", {"chat_id": GROUP, "message_id": first}) in actions)
    await telegram_server.wait_for(lambda: any("respectful" in m.text for m in telegram_server.replies_to(GROUP)))

    await group_says(telegram_server, "still awful")
    await telegram_server.wait_for(lambda: any(name == "restrictChatMember" for name, _ in actions))
    muted = next(args for name, args in actions if name == "restrictChatMember")
    assert muted["user_id"] == MEMBER and muted["until_date"] is not None
    assert muted["permissions"]["can_send_messages"] is False

    timeout_entries = "select max(id) from automod_actions where actions like '%timeout%'"
    # The action is recorded once the platform carried it out: wait for the row, not only for the call.
    await telegram_server.wait_for(lambda: app.store.db.execute(timeout_entries).fetchone()[0] is not None)
    entry_id = app.store.db.execute(timeout_entries).fetchone()[0]
    await group_says(telegram_server, f"/modlog undo {entry_id}", user_id=ADMIN)
    await telegram_server.wait_for(lambda: sum(name == "restrictChatMember" for name, _ in actions) == 2)
    lifted = [args for name, args in actions if name == "restrictChatMember"][1]
    assert lifted["permissions"]["can_send_messages"] is True


async def test_chat_administrator_manages_rules_a_member_may_not(
    running: tuple[BotApp, TelegramAdapter, ScriptedEngine], telegram_server: FakeTelegramServer
) -> None:
    _, _, engine = running
    rule = '/rules add keyword "opening hours" -> We are open 9-17, {user}.'
    await group_says(telegram_server, rule)
    await telegram_server.wait_for(lambda: len(telegram_server.replies_to(GROUP)) == 1)
    assert telegram_server.replies_to(GROUP)[0].text == "Only admins can use /rules."
    await group_says(telegram_server, rule, user_id=ADMIN)
    await telegram_server.wait_for(lambda: len(telegram_server.replies_to(GROUP)) == 2)
    assert "#1" in telegram_server.replies_to(GROUP)[1].text
    await group_says(telegram_server, "what are your opening hours?")
    await telegram_server.wait_for(lambda: len(telegram_server.replies_to(GROUP)) == 3)
    assert telegram_server.replies_to(GROUP)[2].text == "We are open 9-17, Troll."
    assert engine.requests == []


async def test_handoff_cycle_through_a_staff_group(
    running: tuple[BotApp, TelegramAdapter, ScriptedEngine], telegram_server: FakeTelegramServer
) -> None:
    customer = 555
    await telegram_server.push_message("/human my parcel never arrived", chat_id=customer, user_id=customer)
    await telegram_server.wait_for(lambda: telegram_server.replies_to(STAFF) and telegram_server.replies_to(customer))
    assert "New ticket #1" in telegram_server.replies_to(STAFF)[0].text
    assert "ticket #1" in telegram_server.replies_to(customer)[0].text

    await telegram_server.push_message("hello? anyone?", chat_id=customer, user_id=customer)
    await telegram_server.wait_for(lambda: len(telegram_server.replies_to(STAFF)) == 2)
    assert telegram_server.replies_to(STAFF)[1].text == "[ticket #1] Alice: hello? anyone?"
    assert len(telegram_server.replies_to(customer)) == 1

    await telegram_server.push_message("/ticket close 1", chat_id=STAFF, chat_type="supergroup", user_id=ADMIN)
    await telegram_server.wait_for(lambda: len(telegram_server.replies_to(customer)) == 2)
    assert "Ticket #1 is closed" in telegram_server.replies_to(customer)[1].text

    await telegram_server.push_message("are you back?", chat_id=customer, user_id=customer)
    await telegram_server.wait_for(lambda: len(telegram_server.replies_to(customer)) == 3)
    assert telegram_server.replies_to(customer)[2].text == "How can I help?"
