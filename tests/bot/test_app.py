"""The app's wiring of the harm check's language-model stage: an in-process engine lends its hidden states to
the gate, a remote one cannot, and wiring it never loads the model."""

from __future__ import annotations

from bot.app import engine_reply_features
from bot.engine.hidden_states import EngineFeaturesOnDemand
from bot.engine.openai_engine import OpenAIEngine
from bot.engine.settings import EngineSettings


class CountingEngine:
    """An in-process engine whose model load is counted."""

    loads = 0

    @property
    def loaded(self) -> object:
        CountingEngine.loads += 1
        raise AssertionError("wiring must not load the model")


def test_an_in_process_engine_gives_the_gate_its_hidden_states_without_loading() -> None:
    features = engine_reply_features(CountingEngine())
    assert isinstance(features, EngineFeaturesOnDemand)
    assert CountingEngine.loads == 0


def test_a_remote_engine_or_none_gives_no_reply_features() -> None:
    assert engine_reply_features(OpenAIEngine(EngineSettings(backend="openai"))) is None
    assert engine_reply_features(None) is None
