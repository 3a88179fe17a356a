"""Decode steps with every layer in one C call: the hidden states, caches and replies of the per-op path."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from bot.engine.base import ChatTurn, GenerationRequest, GenerationSettings
from bot.engine.direct_llama import DirectGenerationConfig, DirectLlamaConfig, DirectLlamaForCausalLM
from bot.engine.fused_decode import FusedDecodeKernel, FusedDecoder, ThreadChoice, load_fused_decode
from bot.engine.int8_linear import load_int8_kernel, quantize_model
from bot.engine.kv_pool import KVShape, SequenceKV
from bot.engine.loader import load_model
from bot.engine.native_attention import load_native_attention
from bot.engine.packed_attention import BATCH_KWARG, PackedBatch, Segment
from bot.engine.settings import EngineSettings
from bot.engine.transformers_engine import TransformersEngine

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def kernel() -> FusedDecodeKernel:
    built = load_fused_decode()
    if built is None or load_int8_kernel() is None:
        pytest.skip("no C compiler or no AVX2/AVX-512 here")
    return built


def _tiny_int8_model(seed: int = 0) -> DirectLlamaForCausalLM:
    """A random two-layer Llama with head and width sizes off the SIMD widths' multiples, int8 weights."""
    config = DirectLlamaConfig(
        hidden_size=72,
        intermediate_size=100,
        num_hidden_layers=2,
        num_attention_heads=6,
        num_key_value_heads=2,
        head_dim=12,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        vocab_size=50,
        tie_word_embeddings=False,
    )
    model = DirectLlamaForCausalLM(config, DirectGenerationConfig(None))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
        for name, parameter in model.named_parameters():
            if "norm" in name:
                parameter.copy_(1.0 + 0.1 * torch.randn(parameter.shape, generator=generator))
    assert quantize_model(model) > 0
    return model.eval()


def _caches(model: DirectLlamaForCausalLM, prompts: list[list[int]], dtype: torch.dtype) -> list[SequenceKV]:
    """Caches holding each prompt, prefilled through the per-op path."""
    config = model.config
    shape = KVShape(config.num_hidden_layers, config.num_key_value_heads, config.head_dim, dtype, CPU)
    caches = []
    for prompt in prompts:
        kv = SequenceKV(shape, len(prompt) + 8)
        _per_op_step(model, [kv], prompt, count=len(prompt))
        caches.append(kv)
    return caches


def _per_op_step(
    model: DirectLlamaForCausalLM, caches: list[SequenceKV], tokens: list[int], count: int = 1
) -> torch.Tensor:
    segments = [Segment(kv, i * count, count, kv.length) for i, kv in enumerate(caches)]
    positions = [kv.length + offset for kv in caches for offset in range(count)]
    batch = PackedBatch.build(segments, CPU, kernel=load_native_attention(), group_size=3)
    with torch.inference_mode():
        hidden = model.model(
            input_ids=torch.tensor([tokens]), position_ids=torch.tensor([positions]), **{BATCH_KWARG: batch}
        ).last_hidden_state
    for i, kv in enumerate(caches):
        kv.tokens.extend(tokens[i * count : (i + 1) * count])
    return hidden


def _clone(caches: list[SequenceKV]) -> list[SequenceKV]:
    copies = []
    for kv in caches:
        copy = SequenceKV(kv.shape, kv.reserved)
        copy.buffer.copy_(kv.buffer)
        copy.tokens = list(kv.tokens)
        copies.append(copy)
    return copies


@pytest.mark.parametrize("precise", [True, False])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("kv_dtype", [torch.float32, torch.bfloat16])
def test_a_fused_step_gives_the_hidden_states_and_caches_of_the_per_op_path(
    kernel: FusedDecodeKernel, threads: int, kv_dtype: torch.dtype, precise: bool
) -> None:
    # precise=False: two-level int8 activations (VNNI), within ~1/65,000 of each row's largest value.
    tolerance = 1e-4 if precise or not kernel.has_vnni else 2e-3
    model = _tiny_int8_model()
    decoder = FusedDecoder.for_model(model, kernel, threads=threads, precise=precise)
    assert decoder is not None
    per_op = _caches(model, [[1, 2, 3, 4, 5], list(range(10, 47)), [7]], kv_dtype)  # different lengths
    fused = _clone(per_op)
    for step in range(3):
        tokens = [3 + step, 9, 20 - step]
        expected = _per_op_step(model, per_op, tokens)
        assert decoder.accepts(fused)
        with torch.inference_mode():
            got = decoder.decode(tokens, fused)
        for kv in fused:
            kv.tokens.append(tokens[fused.index(kv)])
        torch.testing.assert_close(got, expected, atol=tolerance, rtol=tolerance)
        for mine, theirs in zip(fused, per_op, strict=True):
            stored = mine.length
            torch.testing.assert_close(
                mine.buffer[:, :, :, :stored].float(), theirs.buffer[:, :, :, :stored].float(), atol=1e-2, rtol=1e-2
            )


def test_one_sequence_on_two_threads_gets_what_one_thread_gives(kernel: FusedDecodeKernel) -> None:
    model = _tiny_int8_model(seed=3)
    one, two = FusedDecoder.for_model(model, kernel, threads=1), FusedDecoder.for_model(model, kernel, threads=2)
    assert one is not None and two is not None
    first = _caches(model, [list(range(1, 30))], torch.bfloat16)
    second = _clone(first)
    with torch.inference_mode():
        torch.testing.assert_close(one.decode([5], first), two.decode([5], second), atol=1e-5, rtol=1e-5)


def test_a_model_that_is_not_int8_gets_no_fused_decoder(kernel: FusedDecodeKernel) -> None:
    float_model = DirectLlamaForCausalLM(_tiny_int8_model().config, DirectGenerationConfig(None))
    assert FusedDecoder.for_model(float_model, kernel) is None
    assert FusedDecoder.for_model(_tiny_int8_model(), None) is None


def test_the_thread_choice_tries_both_counts_then_keeps_the_faster() -> None:
    choice = ThreadChoice(4)
    assert choice.most == 2
    tried = []
    for _ in range(ThreadChoice.EXPLORE_STEPS):
        threads = choice.next()
        tried.append(threads)
        choice.record(threads, 0.010 if threads == 1 else 0.030)  # two threads slower: a busy machine
    assert sorted(set(tried)) == [1, 2] and tried.count(1) == tried.count(2)
    assert all(choice.next() == 1 for _ in range(5))
    for _ in range(ThreadChoice.EXPLOIT_STEPS):
        choice.record(choice.next(), 0.010)
    first = choice.next()  # exploring again
    choice.record(first, 0.010)
    assert {first, choice.next()} == {1, 2}


@pytest.mark.model
@pytest.mark.parametrize("precise", [True, False])
def test_the_bundled_model_decodes_fused_within_logit_tolerance_of_the_per_op_path(
    kernel: FusedDecodeKernel, model_settings: EngineSettings, precise: bool
) -> None:
    model = load_model(replace(model_settings, quantize_int8=True), progress=lambda _: None, direct=True).model
    assert isinstance(model, DirectLlamaForCausalLM)
    decoder = FusedDecoder.for_model(model, kernel, precise=precise)
    assert decoder is not None
    generator = torch.Generator().manual_seed(0)
    prompts = [torch.randint(0, 49000, (length,), generator=generator).tolist() for length in (300, 41)]
    per_op = _caches(model, prompts, torch.bfloat16)
    fused = _clone(per_op)
    tokens = [prompt[-1] for prompt in prompts]
    for _ in range(4):
        expected = model.lm_head(_per_op_step(model, per_op, tokens))
        with torch.inference_mode():
            got = decoder.logits(decoder.decode(tokens, fused)[0]).unsqueeze(0)
        for kv, token in zip(fused, tokens, strict=True):
            kv.tokens.append(token)
        torch.testing.assert_close(got, expected, atol=2e-2 if precise else 0.15, rtol=0)
        assert torch.equal(got.argmax(-1), expected.argmax(-1))
        tokens = expected.argmax(-1)[0].tolist()


@pytest.mark.model
async def test_the_engine_gives_the_same_greedy_replies_fused_or_layer_by_layer(model_settings: EngineSettings) -> None:
    settings = replace(model_settings, quantize_int8=True, int8_activations=False)  # the same arithmetic
    loaded = load_model(settings, progress=lambda _: None, direct=True)
    replies: dict[bool, list[str]] = {}
    for fused in (True, False):
        engine = TransformersEngine(replace(settings, fused_decode=fused), loaded=loaded)
        await engine.start()
        try:
            assert engine.fused_decode is fused
            replies[fused] = [
                (
                    await engine.generate(
                        GenerationRequest(
                            (ChatTurn("user", text),), GenerationSettings(max_new_tokens=24, temperature=0.0)
                        )
                    )
                ).text
                for text in ("Say hello to the team.", "What is the capital of France?")
            ]
        finally:
            await engine.stop()
    assert replies[True] == replies[False]
    assert all(reply.strip() for reply in replies[True])
