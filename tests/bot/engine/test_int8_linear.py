"""Int8 weights read by the C kernel: same results as the dequantized float layer, in decode and prefill."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from bot.engine.base import ChatTurn, GenerationRequest, GenerationSettings
from bot.engine.direct_llama import DirectLlamaForCausalLM
from bot.engine.int8_linear import SPLIT_WEIGHTS, WIDEN_ROWS, Int8Kernel, Int8Linear, load_int8_kernel, quantize_model
from bot.engine.loader import load_model
from bot.engine.settings import EngineSettings
from bot.engine.transformers_engine import TransformersEngine


@pytest.fixture(scope="module")
def kernel() -> Int8Kernel:
    built = load_int8_kernel()
    if built is None:
        pytest.skip("no C compiler or no AVX2/AVX-512 here")
    return built


def _dequantized(layer: Int8Linear) -> torch.nn.Linear:
    reference = torch.nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
    with torch.no_grad():
        reference.weight.copy_(layer.weight_int8.float() * layer.scale[:, None])
        if layer.bias is not None:
            reference.bias.copy_(layer.bias)
    return reference


@pytest.mark.parametrize("rows", [1, 3, 4, 16, 17, WIDEN_ROWS + 5])
@pytest.mark.parametrize("bias", [True, False])
def test_int8_linear_equals_its_dequantized_float_layer(kernel: Int8Kernel, rows: int, bias: bool) -> None:
    torch.manual_seed(rows)
    layer = Int8Linear(torch.nn.Linear(72, 37, bias=bias), kernel)  # sizes off every SIMD width
    x = torch.randn(1, rows, 72)
    with torch.inference_mode():
        got = layer(x)
        expected = _dequantized(layer)(x)
    assert got.shape == (1, rows, 37)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_a_row_gets_the_same_values_bit_for_bit_alone_or_in_a_batch(kernel: Int8Kernel) -> None:
    # Batch-1 decode runs eight outputs at a time, batches four rows by four outputs: the same sums in
    # the same order, so a sequence's logits never depend on how many others decode beside it.
    torch.manual_seed(7)
    layer = Int8Linear(torch.nn.Linear(200, 45), kernel)  # tails in both directions
    x = torch.randn(1, 4, 200)
    with torch.inference_mode():
        together = layer(x)
        for row in range(4):
            assert torch.equal(layer(x[:, row : row + 1])[0, 0], together[0, row])


def test_a_big_layer_split_between_two_threads_equals_its_float_layer(kernel: Int8Kernel) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # one row of a layer of SPLIT_WEIGHTS weights: both threads take half the outputs
    try:
        layer = Int8Linear(torch.nn.Linear(512, SPLIT_WEIGHTS // 512 + 3), kernel)
        x = torch.randn(1, 1, 512)
        with torch.inference_mode():
            torch.testing.assert_close(layer(x), _dequantized(layer)(x), atol=1e-4, rtol=1e-4)
    finally:
        torch.set_num_threads(threads)


def test_int8_weights_stay_within_half_a_step_of_the_float_weights(kernel: Int8Kernel) -> None:
    linear = torch.nn.Linear(64, 8)
    layer = Int8Linear(linear, kernel)
    assert layer.weight_int8.dtype == torch.int8
    error = (layer.weight_int8.float() * layer.scale[:, None] - linear.weight).abs()
    assert bool((error <= layer.scale[:, None] / 2 + 1e-7).all())


class _Config:
    tie_word_embeddings = True


class _TinyModel(torch.nn.Module):
    """Linear layers at two depths and a config, as transformers models have."""

    def __init__(self) -> None:
        super().__init__()
        self.config = _Config()
        self.body = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU())
        self.head = torch.nn.Linear(32, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))  # type: ignore[no-any-return]


def test_quantize_model_replaces_every_linear_and_unties_the_head(kernel: Int8Kernel) -> None:
    model = _TinyModel()
    x = torch.randn(2, 16)
    with torch.inference_mode():
        before = model(x)
    assert quantize_model(model, kernel) == 2
    assert not any(isinstance(module, torch.nn.Linear) for module in model.modules())
    assert model.config.tie_word_embeddings is False
    with torch.inference_mode():
        torch.testing.assert_close(model(x), before, atol=0.05, rtol=0.05)


@pytest.mark.model
async def test_quantize_int8_setting_serves_the_bundled_model_through_the_kernel(
    kernel: Int8Kernel, model_settings: EngineSettings
) -> None:
    loaded = load_model(replace(model_settings, quantize_int8=True), progress=lambda _: None)
    assert isinstance(loaded.model.lm_head, Int8Linear)
    assert isinstance(loaded.model.model.layers[0].self_attn.q_proj, Int8Linear)
    engine = TransformersEngine(model_settings, loaded=loaded)
    await engine.start()
    try:
        result = await engine.generate(
            GenerationRequest((ChatTurn("user", "Say hello."),), GenerationSettings(max_new_tokens=6, ignore_eos=True))
        )
    finally:
        await engine.stop()
    assert result.completion_tokens == 6 and result.text.strip()


@pytest.mark.model
def test_stacked_projections_give_the_logits_of_separate_int8_layers(
    kernel: Int8Kernel, model_settings: EngineSettings
) -> None:
    separate = load_model(model_settings, progress=lambda _: None, direct=True).model
    stacked = load_model(model_settings, progress=lambda _: None, direct=True).model
    assert isinstance(separate, DirectLlamaForCausalLM) and isinstance(stacked, DirectLlamaForCausalLM)
    targets = [
        (parent, name, child)
        for parent in separate.modules()
        for name, child in parent.named_children()
        if isinstance(child, torch.nn.Linear)
    ]
    for parent, name, child in targets:  # the same int8 layers, one per projection
        setattr(parent, name, Int8Linear(child, kernel))
    layers = quantize_model(stacked, kernel)
    assert layers == 30 * 4 + 1  # qkv, o, gate_up, down per layer, and lm_head
    assert isinstance(stacked.model.layers[0].self_attn.qkv_proj, Int8Linear)
    assert not hasattr(stacked.model.layers[0].self_attn, "q_proj")
    ids = torch.tensor([[1, 504, 3458, 282, 4649, 314, 7042, 28, 284, 260, 3458, 282]])
    with torch.inference_mode():
        expected = separate(ids)
        got = stacked(ids)
        for rows in (1, 3):  # decode-sized calls go through the kernel, not the widened-weight path
            torch.testing.assert_close(stacked(ids[:, :rows]), separate(ids[:, :rows]), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
