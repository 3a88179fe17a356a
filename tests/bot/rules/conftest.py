"""A started bot with only the rules feature, answering with a scripted engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import BotApp
from bot.engine.fake import ScriptedEngine
from bot.rules.feature import RulesFeature
from tests.support import build_test_app

RULES_CONFIG = """prompts_dir = "prompts"
admin_user_ids = ["console:root"]
[rules]
default_cooldown_s = 0
user_capacity = 5
user_refill_per_minute = 0.001
chat_capacity = 1000
"""


@pytest.fixture
async def rules_app(tmp_path: Path, scripted_engine: ScriptedEngine) -> AsyncIterator[BotApp]:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "pirate.md").write_text(
        "{#- variables: bot_name -#}\nYou are {{ bot_name }}, a pirate. Arr.\n", encoding="utf-8"
    )
    bot_app = build_test_app(tmp_path, engine=scripted_engine, config_text=RULES_CONFIG, features=[RulesFeature()])
    await bot_app.start()
    yield bot_app
    await bot_app.stop()


def rules_feature(app: BotApp) -> RulesFeature:
    return next(feature for feature in app.features if isinstance(feature, RulesFeature))
