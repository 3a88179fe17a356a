"""A process that answers one message and exits (`socialbot ask`) loads only what the turn needs: the model when
a reply needs it, no feature's warm-up, worker or schedule; every reply still goes through the gate."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import BotApp
from bot.config import load_config
from bot.engine.base import GenerationRequest, GenerationSettings
from bot.engine.fake import ScriptedEngine
from bot.engine.settings import EngineSettings
from bot.moderation.gate import GatePolicy, ModerationGate
from bot.ops.background_engine import BackgroundEngine
from bot.plugin import BaseFeature
from tests.support import incoming, write_config


class StartRecorder(BaseFeature):
    """A feature that records whether its background work was started and stopped."""

    name = "recorder"

    def __init__(self) -> None:
        self.started = False
        self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True


async def test_an_on_demand_engine_starts_without_loading_and_loads_when_a_reply_needs_it(tmp_path: Path) -> None:
    from bot.engine.loader import ModelLoadError

    engine = BackgroundEngine(EngineSettings(model=str(tmp_path / "no-such-model"), device="cpu"), on_demand=True)
    await engine.start()  # nothing needed the model yet: nothing loaded, nothing failed
    assert not engine.load_begun and not engine.ready
    engine.wait_loaded(0)  # returns at once: there is no load to wait for
    request = GenerationRequest((), GenerationSettings(max_new_tokens=4), "c1")
    with pytest.raises(ModelLoadError, match="could not load model"):
        await engine.generate(request)  # the first call that needs the model loads it
    assert engine.load_begun


async def test_a_start_without_background_work_answers_through_the_gate_and_starts_no_feature(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path), environ={})
    recorder = StartRecorder()
    gate = ModerationGate(GatePolicy(blocklist=("forbiddenword",)))
    app = BotApp.build(config, engine=ScriptedEngine(["a forbiddenword reply"]), gate=gate, features=[recorder])
    await app.start(background_work=False)
    try:
        replies = await app.manager.handle(incoming("hello"))
    finally:
        await app.stop()
    assert [reply.text for reply in replies] == [config.settings.bot.fallback_reply]  # the gate blocked it
    assert not recorder.started and recorder.stopped  # stopped anyway: a feature not started has nothing to stop


async def test_a_full_start_starts_every_feature(tmp_path: Path) -> None:
    recorder = StartRecorder()
    app = BotApp.build(
        load_config(write_config(tmp_path), environ={}),
        engine=ScriptedEngine(["hello"]),
        gate=ModerationGate(GatePolicy()),
        features=[recorder],
    )
    await app.start()
    await app.stop()
    assert recorder.started and recorder.stopped
