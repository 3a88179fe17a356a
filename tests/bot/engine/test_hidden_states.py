"""Hidden states read from the engine's own model: the same as transformers' `output_hidden_states` on the same
weights, computed through the first K layers only, and pooled over the reply's tokens of a (request, reply)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import nn

from bot.engine.hidden_states import (
    PASSAGE_JUDGE,
    EngineFeaturesOnDemand,
    EngineReplyFeatures,
    HiddenStatesUnavailable,
    JudgeTokens,
    PairTokens,
    StateRecipe,
    layer_states,
    pool,
)
from bot.engine.loader import LoadedModel, load_model
from bot.engine.settings import EngineSettings

pytestmark = pytest.mark.model

REQUEST = "How do I reset my password?"
REPLY = "Open Settings, choose Account, then Reset password, and follow the link we email you."


@pytest.fixture(scope="module")
def direct_model(model_settings: EngineSettings) -> LoadedModel:
    return load_model(model_settings, progress=lambda _: None, direct=True)


@pytest.fixture(scope="module")
def int8_model(model_settings: EngineSettings) -> LoadedModel:
    return load_model(replace(model_settings, quantize_int8=True), progress=lambda _: None, direct=True)


def _ids(model: LoadedModel) -> list[int]:
    ids, _ = PairTokens(model.tokenizer).build(REQUEST, REPLY, StateRecipe())
    return ids


@pytest.mark.parametrize("layers", [1, 9, 18])
def test_the_states_equal_transformers_hidden_states_on_the_same_weights(
    direct_model: LoadedModel, loaded_model: LoadedModel, layers: int
) -> None:
    ids = _ids(direct_model)
    ours = layer_states(direct_model.model, ids, layers)
    with torch.inference_mode():
        reference = loaded_model.model(torch.tensor([ids]), output_hidden_states=True).hidden_states
    assert len(ours) == layers + 1
    for index in range(layers + 1):
        assert torch.allclose(ours[index], reference[index][0], atol=1e-4, rtol=1e-4), index


def test_layers_past_k_are_never_run(direct_model: LoadedModel) -> None:
    def refuse(module: nn.Module, inputs: object) -> None:
        raise AssertionError("a layer past K ran")

    blocks = direct_model.model.model.layers
    handles = [block.register_forward_pre_hook(refuse) for block in blocks[6:]]
    try:
        states = layer_states(direct_model.model, _ids(direct_model), 6)
    finally:
        for handle in handles:
            handle.remove()
    assert len(states) == 7


def test_the_int8_engine_model_gives_states_close_to_float32(
    direct_model: LoadedModel, int8_model: LoadedModel
) -> None:
    ids = _ids(direct_model)
    start = PairTokens(direct_model.tokenizer).build(REQUEST, REPLY, StateRecipe())[1]
    full = pool(layer_states(direct_model.model, ids, 18)[18], start, "mean")
    int8 = pool(layer_states(int8_model.model, ids, 18)[18], start, "mean")
    cosine = torch.nn.functional.cosine_similarity(full, int8, dim=0)
    assert cosine > 0.98


def test_the_reply_starts_after_the_assistant_marker_and_cuts_apply(direct_model: LoadedModel) -> None:
    tokens = PairTokens(direct_model.tokenizer)
    recipe = StateRecipe(request_tokens=3, reply_tokens=5)
    ids, start = tokens.build(REQUEST, REPLY, recipe)
    assert len(ids) - start == 5
    assert direct_model.tokenizer.decode(ids[:start]).endswith("<|im_start|>assistant\n")
    alone, alone_start = tokens.build(REQUEST, REPLY, replace(recipe, with_request=False))
    assert alone[alone_start:] == ids[start:] and alone_start < start


def test_the_judge_framing_quotes_the_cut_reply_and_ends_at_the_assistant_marker(direct_model: LoadedModel) -> None:
    recipe = StateRecipe(request_tokens=3, reply_tokens=5)
    tokens = JudgeTokens(direct_model.tokenizer, first_tokens=recipe.request_tokens, second_tokens=recipe.reply_tokens)
    ids, start, end = tokens.build(REQUEST, REPLY)
    assert end - start == 5
    assert ids[start:end] == PairTokens(direct_model.tokenizer).build(REQUEST, REPLY, recipe)[0][-5:]
    text = direct_model.tokenizer.decode(ids)
    assert "Request: How do I" in text and text.endswith("Answer Yes or No.<|im_end|>\n<|im_start|>assistant\n")


def test_the_passage_judge_framing_quotes_question_and_cut_passage_and_ends_at_the_assistant_marker(
    direct_model: LoadedModel,
) -> None:
    tokens = JudgeTokens(direct_model.tokenizer, PASSAGE_JUDGE, first_tokens=4, second_tokens=6)
    ids, start, end = tokens.build(REQUEST, REPLY)
    assert end - start == 6
    assert ids[start:end] == direct_model.tokenizer.encode(REPLY, add_special_tokens=False)[:6]
    text = direct_model.tokenizer.decode(ids)
    assert text.startswith("<|im_start|>user\nQuestion: How do I reset\n\nPassage: Open")
    assert text.endswith("Does the passage answer the question? Answer Yes or No.<|im_end|>\n<|im_start|>assistant\n")


def test_an_empty_passage_spans_the_passage_marker(direct_model: LoadedModel) -> None:
    ids, start, end = JudgeTokens(direct_model.tokenizer, PASSAGE_JUDGE).build(REQUEST, "")
    assert end - start == 1 and ids[start:end] == ids[start - 1 : start]  # the marker's last token, repeated


def test_the_feature_source_pools_the_layer_the_recipe_names(int8_model: LoadedModel) -> None:
    source = EngineReplyFeatures(int8_model.model, int8_model.tokenizer, int8_model.name)
    recipe = {"layer": 12, "pooling": "mean"}
    pair = source.reply_features(REQUEST, REPLY, recipe)
    ids, start = PairTokens(int8_model.tokenizer).build(REQUEST, REPLY, StateRecipe(layer=12))
    expected = pool(layer_states(int8_model.model, ids, 12)[12], start, "mean")
    assert torch.allclose(torch.tensor(pair), expected, atol=1e-6)
    assert source.name == "SmolLM2-135M-Instruct"
    assert source.reply_features("Tell me a joke.", REPLY, recipe) != pair  # the request is read
    assert len(source.reply_features(REQUEST, "", recipe)) == len(pair)  # an empty reply still gives a vector


def test_features_on_demand_look_the_engine_model_up_on_first_use(int8_model: LoadedModel) -> None:
    class Engine:
        looked_up = 0

        @property
        def loaded(self) -> LoadedModel:
            Engine.looked_up += 1
            return int8_model

    source = EngineFeaturesOnDemand(Engine())
    assert Engine.looked_up == 0
    first = source.reply_features(REQUEST, REPLY, {"layer": 3, "pooling": "last"})
    source.reply_features(REQUEST, REPLY, {"layer": 3, "pooling": "last"})
    assert Engine.looked_up == 1 and len(first) == int8_model.model.config.hidden_size


def test_a_model_that_is_not_the_direct_llama_is_refused(loaded_model: LoadedModel) -> None:
    with pytest.raises(HiddenStatesUnavailable):
        EngineReplyFeatures(loaded_model.model, loaded_model.tokenizer, "x")
