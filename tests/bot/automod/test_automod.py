"""Automod: offensive group messages are warned, deleted, timed out and escalated; admins review and undo."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import BotApp
from bot.automod.feature import automod_feature
from bot.automod.settings import AutomodSection
from bot.delivery import DeliveryError
from bot.messages import IncomingMessage, OutgoingMessage, PlatformAction
from bot.moderation.gate import GatePolicy, ModerationGate
from tests.support import build_test_app, incoming


class ScoreByWord:
    """Scores texts containing 'awful' as offensive (0.9) and 'vile' as very offensive (0.99)."""

    def score(self, text: str) -> float:
        return 0.99 if "vile" in text else 0.9 if "awful" in text else 0.01


class RecordingPlatform:
    """An in-process platform connection that records what automod asked it to do."""

    platform = "telegram"

    def __init__(self) -> None:
        self.actions: list[PlatformAction] = []
        self.fail_next = False

    async def send(self, message: OutgoingMessage) -> list[str]:
        return ["1"]

    async def perform(self, action: PlatformAction) -> None:
        if self.fail_next:
            self.fail_next = False
            raise DeliveryError("forbidden", retryable=False)
        self.actions.append(action)


CONFIG = """
[automod]
staff_platform = "telegram"
staff_chat_id = "staff"
"""


@pytest.fixture
async def modded(tmp_path: Path) -> AsyncIterator[tuple[BotApp, RecordingPlatform]]:
    gate = ModerationGate(GatePolicy(input_flag_threshold=0.7), offensive=ScoreByWord())
    section = AutomodSection(staff_platform="telegram", staff_chat_id="staff")
    app = build_test_app(tmp_path, config_text=CONFIG, gate=gate, features=[automod_feature(section)])
    await app.start()
    platform = RecordingPlatform()
    app.register_sender(platform)
    yield app, platform
    await app.stop()


def group_message(text: str, user: str = "troll", admin: bool = False) -> IncomingMessage:
    return incoming(text, platform="telegram", chat_id="group", user_id=user, is_direct=False, is_admin=admin)


async def test_first_offence_deletes_and_warns(modded: tuple[BotApp, RecordingPlatform]) -> None:
    app, platform = modded
    message = group_message("you are awful")
    replies = await app.manager.handle(message)
    assert [action.kind for action in platform.actions] == ["delete_message"]
    assert platform.actions[0].message_id == message.platform_message_id
    assert "Your message was removed" in replies[0].text


async def test_repeat_offender_escalates_to_timeout_and_staff_notice(
    modded: tuple[BotApp, RecordingPlatform],
) -> None:
    app, platform = modded
    await app.manager.handle(group_message("awful"))
    replies = await app.manager.handle(group_message("still awful"))
    kinds = [action.kind for action in platform.actions]
    assert kinds == ["delete_message", "delete_message", "timeout_user"]
    assert platform.actions[-1].duration_s == 600
    staff = [reply for reply in replies if reply.conversation.chat_id == "staff"]
    assert staff and "/modlog undo" in staff[0].text


async def test_clean_messages_and_admins_are_left_alone(modded: tuple[BotApp, RecordingPlatform]) -> None:
    app, platform = modded
    await app.manager.handle(group_message("lovely weather"))
    await app.manager.handle(group_message("awful admin joke", user="boss", admin=True))
    assert platform.actions == []


async def test_undo_lifts_the_timeout_and_wrong_stores_a_training_example(
    modded: tuple[BotApp, RecordingPlatform],
) -> None:
    app, platform = modded
    await app.manager.handle(group_message("vile words"))
    entry_id = app.store.db.execute("select max(id) from automod_actions").fetchone()[0]
    reply = await app.manager.handle(group_message(f"/modlog wrong {entry_id}", user="boss", admin=True))

    assert "false positive" in reply[0].text
    assert platform.actions[-1].kind == "lift_timeout"
    feedback = list(app.store.db.query("select text, label from moderation_feedback"))
    assert feedback == [{"text": "vile words", "label": "NOT"}]
    listing = await app.manager.handle(group_message("/modlog", user="boss", admin=True))
    assert "(undone)" in listing[0].text and "(marked wrong)" in listing[0].text


async def test_modlog_is_refused_to_members(modded: tuple[BotApp, RecordingPlatform]) -> None:
    app, _ = modded
    replies = await app.manager.handle(group_message("/modlog"))
    assert replies[0].text == "Only admins can use /modlog."


async def test_failed_platform_action_is_recorded_not_raised(modded: tuple[BotApp, RecordingPlatform]) -> None:
    app, platform = modded
    platform.fail_next = True
    await app.manager.handle(group_message("awful"))
    row = app.store.db.execute("select actions from automod_actions").fetchone()
    assert "delete_failed" in row[0]
