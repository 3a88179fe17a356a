"""Shared fixtures: a bot built from a temporary config with a scripted engine, and the real model."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from bot.app import BotApp
from bot.engine.fake import ScriptedEngine
from tests.support import build_test_app

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# These machines are shared and noisy: Hypothesis's wall-clock checks (per-example deadline, "too slow" data
# generation) would fail a correct property whenever the other core is busy.
settings.register_profile("shared_machine", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("shared_machine")


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """A test that runs the CLI in process reconfigures logging (root handlers, quieter library loggers);
    put it back so a later test's log assertions see what they would see alone."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    named = {
        name: logger.level
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            logger.setLevel(named.get(name, logging.NOTSET))


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


@pytest.fixture
def float_minilm(monkeypatch: pytest.MonkeyPatch) -> None:
    """The float numpy MiniLM forward for tests that hold it to the torch/transformers models within 1e-5; the
    runtime default, the int8 kernel, has its own tolerance tests (tests/bot/test_minilm_int8.py)."""
    monkeypatch.setenv("SOCIALBOT_MINILM_INT8", "0")
