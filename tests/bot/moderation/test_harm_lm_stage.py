"""The harm check's language-model stage: the model's own replies are judged with its hidden states (the real
bundled model, int8 as the engine loads it); other texts keep pair mode; a failing source falls back to it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from bot.config import load_config
from bot.engine.hidden_states import EngineReplyFeatures
from bot.engine.loader import load_model
from bot.engine.settings import EngineSettings
from bot.evaluation.moderation_report import regression_texts
from bot.moderation.factory import build_gate
from bot.moderation.gate import ModerationGate
from bot.moderation.reply_probe import DeepHarmCheck, RecipeValue, ReplyFeatureSource
from tests.bot.moderation.harm_examples import COMPLYING_REPLY, HARMFUL_REQUEST, REFUSAL, SHOP_REPLY, SHOP_REQUEST

pytestmark = [pytest.mark.model, pytest.mark.slow]


class CountingSource:
    """The real engine source, counting the replies it was asked to read."""

    def __init__(self, inner: ReplyFeatureSource) -> None:
        self.inner = inner
        self.read: list[str] = []

    @property
    def name(self) -> str:
        return self.inner.name

    def reply_features(self, request: str, reply: str, recipe: Mapping[str, RecipeValue]) -> Sequence[float]:
        self.read.append(reply)
        return self.inner.reply_features(request, reply, recipe)


class BrokenSource:
    """A source whose engine has gone (stopped, unloaded)."""

    name = "gone"

    def reply_features(self, request: str, reply: str, recipe: Mapping[str, RecipeValue]) -> Sequence[float]:
        raise RuntimeError("the engine stopped")


@pytest.fixture(scope="module")
def engine_source() -> EngineReplyFeatures:
    loaded = load_model(EngineSettings(threads=1), progress=lambda _: None, direct=True)
    return EngineReplyFeatures(loaded.model, loaded.tokenizer, loaded.name)


@pytest.fixture(scope="module")
def shared_gate(engine_source: EngineReplyFeatures) -> ModerationGate:
    return build_gate(load_config(None, environ={}), reply_features=CountingSource(engine_source))


@pytest.fixture
def gate(shared_gate: ModerationGate) -> Iterator[ModerationGate]:
    source = shared_gate.reply_features
    assert isinstance(source, CountingSource)
    source.read.clear()
    yield shared_gate
    shared_gate.reply_features = source


def read_by_model(gate: ModerationGate) -> list[str]:
    source = gate.reply_features
    assert isinstance(source, CountingSource)
    return source.read


def test_a_generated_complying_reply_to_a_harmful_request_is_judged_by_the_model_and_blocked(
    gate: ModerationGate,
) -> None:
    decision = gate.check_output(COMPLYING_REPLY, request=HARMFUL_REQUEST, generated=True)
    assert decision.blocked
    assert "harmful" in decision.reasons
    assert "model:harm-lm:SmolLM2-135M-Instruct" in decision.reasons
    assert "harm_lm" in decision.scores and "harm_pair" not in decision.scores
    assert read_by_model(gate) == [COMPLYING_REPLY]


def test_a_generated_refusal_passes(gate: ModerationGate) -> None:
    decision = gate.check_output(REFUSAL, request=HARMFUL_REQUEST, generated=True)
    assert not decision.blocked
    assert "harm-lm:SmolLM2-135M-Instruct" in decision.judged_by


def test_a_reply_to_an_ordinary_question_is_not_read_by_the_model(gate: ModerationGate) -> None:
    decision = gate.check_output(SHOP_REPLY, request=SHOP_REQUEST, generated=True)
    assert not decision.blocked
    assert read_by_model(gate) == []  # its request factor keeps it under the threshold whatever the reply says


def test_texts_not_written_by_the_model_keep_pair_mode(gate: ModerationGate) -> None:
    decision = gate.check_output(COMPLYING_REPLY, request=HARMFUL_REQUEST)  # a KB quote, say
    assert decision.blocked and "model:harm-pair" in decision.reasons
    assert read_by_model(gate) == []


def test_a_source_that_fails_falls_back_to_pair_mode(gate: ModerationGate) -> None:
    gate.reply_features = BrokenSource()
    decision = gate.check_output(COMPLYING_REPLY, request=HARMFUL_REQUEST, generated=True)
    assert decision.blocked and "model:harm-pair" in decision.reasons


def test_the_config_key_turns_the_stage_off(tmp_path: Path, engine_source: EngineReplyFeatures) -> None:
    config_path = tmp_path / "socialbot.toml"
    config_path.write_text('[bot]\ndatabase = "bot.db"\n[moderation]\nharm_lm_check = false\n', encoding="utf-8")
    off = build_gate(load_config(config_path, environ={}), reply_features=engine_source)
    assert off.deep_harm is None
    decision = off.check_output(COMPLYING_REPLY, request=HARMFUL_REQUEST, generated=True)
    assert "model:harm-pair" in decision.reasons


def test_the_stage_loads_with_the_shipped_gate_when_a_source_is_given(gate: ModerationGate) -> None:
    assert isinstance(gate.deep_harm, DeepHarmCheck)
    assert build_gate(load_config(None, environ={})).deep_harm is None  # no engine: no stage


def test_no_regression_text_is_blocked_as_a_generated_reply(gate: ModerationGate) -> None:
    texts = regression_texts()
    requests = [texts[(index + 1) % len(texts)] for index in range(len(texts))]
    decisions = gate.check_outputs(texts, requests=requests, generated=[True] * len(texts))
    assert [text for text, decision in zip(texts, decisions, strict=True) if decision.blocked] == []
