"""Shared fixtures: a bot built from a temporary config with a scripted engine, and the real model."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import BotApp
from bot.engine.fake import ScriptedEngine
from tests.support import build_test_app

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def scripted_engine() -> ScriptedEngine:
    return ScriptedEngine()


@pytest.fixture
async def app(tmp_path: Path, scripted_engine: ScriptedEngine) -> AsyncIterator[BotApp]:
    """A started bot on a temporary database, answering with the scripted engine."""
    bot_app = build_test_app(tmp_path, engine=scripted_engine)
    await bot_app.start()
    yield bot_app
    await bot_app.stop()
