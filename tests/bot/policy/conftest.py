"""Turn-policy fixtures: a started bot with the policy on, with and without the fixture knowledge base."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import BotApp
from bot.engine.fake import ScriptedEngine
from bot.kb.feature import KbFeature
from tests.support import build_test_app

KB_FIXTURES = Path(__file__).resolve().parents[1] / "kb" / "fixtures"
# Keys continue the [bot] table that tests.support.write_config opens.
POLICY_ON = 'name = "Sam"\ncommunity_name = "the Corner Shop"\n[policy]\nenabled = true\n'


@pytest.fixture
async def policy_app(tmp_path: Path, scripted_engine: ScriptedEngine) -> AsyncIterator[BotApp]:
    """A started bot with the turn policy and an empty knowledge base."""
    bot_app = build_test_app(tmp_path, engine=scripted_engine, config_text=POLICY_ON)
    await bot_app.start()
    yield bot_app
    await bot_app.stop()


@pytest.fixture
async def policy_kb_app(tmp_path: Path, scripted_engine: ScriptedEngine) -> AsyncIterator[BotApp]:
    """A started bot with the turn policy and the fixture knowledge base (shop FAQ, shipping, returns, hours)."""
    bot_app = build_test_app(tmp_path, engine=scripted_engine, config_text=POLICY_ON)
    feature = next(feature for feature in bot_app.features if isinstance(feature, KbFeature))
    assert feature.kb is not None
    feature.kb.add_paths([KB_FIXTURES])
    await bot_app.start()
    yield bot_app
    await bot_app.stop()
