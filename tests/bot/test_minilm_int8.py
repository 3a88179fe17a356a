"""The int8 MiniLM kernel: pooled vectors within a stated tolerance of the float forward, and the same decisions."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bot.minilm_int8 import (
    dequantized_layer,
    int8_enabled,
    load_minilm_kernel,
    set_kernel_threads,
    token_balanced_parts,
)
from bot.minilm_numpy import NumpyMiniLM
from bot.moderation.embeddings_features import EncoderTokenizer, shared_bundled_encoder
from tests.support import ENCODER_EDGE_TEXTS

TEXTS = ENCODER_EDGE_TEXTS
# The tolerance the kernel is held to against the float forward (pooled vectors of norm 2-7): the rounding of
# the weights to int8 (the feed-forward output's to ~15 bits) and of the activations to ~15 bits.
MIN_COSINE = 0.998
MAX_ABS = 0.08

needs_kernel = pytest.mark.skipif(load_minilm_kernel() is None, reason="no C compiler or no AVX-512 VNNI")


@pytest.fixture
def int8_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SOCIALBOT_MINILM_INT8", "1")
    yield


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1))


@needs_kernel
def test_pooled_vectors_stay_within_the_tolerance_of_the_float_forward_one_by_one_and_batched(int8_on: None) -> None:
    encoder, tokenizer = shared_bundled_encoder(), EncoderTokenizer()
    assert encoder.int8_stack() is not None
    ids, mask = tokenizer.arrays(TEXTS)
    batched, reference = encoder(ids, mask), encoder.float_forward(ids, mask)
    assert float(cosines(batched, reference).min()) >= MIN_COSINE
    assert float(np.abs(batched - reference).max()) <= MAX_ABS
    for row, text in enumerate(TEXTS):
        single = encoder(*tokenizer.arrays([text]))[0]
        # Padding is never computed (sequences are packed), so a text's vector does not depend on its batch.
        assert np.allclose(single, batched[row], atol=1e-6), text


@needs_kernel
def test_what_is_left_is_the_weights_rounding_the_kernel_equals_the_float_forward_of_its_int8_weights(
    int8_on: None,
) -> None:
    encoder, tokenizer = shared_bundled_encoder(), EncoderTokenizer()
    stack = encoder.int8_stack()
    assert stack is not None
    rounded = NumpyMiniLM(
        encoder.config,
        encoder.embeddings,
        tuple(dequantized_layer(layer, int8) for layer, int8 in zip(encoder.layers, stack.layers, strict=True)),
    )
    ids, mask = tokenizer.arrays(TEXTS)
    assert float(np.abs(encoder(ids, mask) - rounded.float_forward(ids, mask)).max()) < 5e-3


@needs_kernel
def test_token_types_reach_the_kernel_as_in_the_float_forward(int8_on: None) -> None:
    encoder = shared_bundled_encoder()
    ids = np.array([[101, 7592, 102, 2088, 102, 0]])
    mask = np.array([[1, 1, 1, 1, 1, 0]])
    types = np.array([[0, 0, 0, 1, 1, 0]])
    with_types, reference = encoder(ids, mask, types), encoder.float_forward(ids, mask, types)
    assert float(cosines(with_types, reference).min()) >= MIN_COSINE
    assert not np.allclose(with_types, encoder(ids, mask), atol=1e-3)


@needs_kernel
def test_a_mask_with_holes_and_switching_the_kernel_off_give_the_float_forward_exactly(
    int8_on: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder = shared_bundled_encoder()
    ids = np.array([[101, 7592, 2088, 102]])
    holes = np.array([[1, 0, 1, 1]])
    assert np.array_equal(encoder(ids, holes), encoder.float_forward(ids, holes))
    monkeypatch.setenv("SOCIALBOT_MINILM_INT8", "0")
    assert not int8_enabled() and encoder.int8_stack() is None
    full = np.ones_like(ids)
    assert np.array_equal(encoder(ids, full), encoder.float_forward(ids, full))


@needs_kernel
def test_fine_tuned_copies_share_the_int8_form_of_the_layers_they_do_not_replace(int8_on: None) -> None:
    from bot.moderation.classifier import LAYERS_FILE, default_weights_dir, load_finetuned_minilm

    base = shared_bundled_encoder()
    tuned, _ = load_finetuned_minilm(default_weights_dir() / LAYERS_FILE)
    base_stack, tuned_stack = base.int8_stack(), tuned.int8_stack()
    assert base_stack is not None and tuned_stack is not None
    shared = [index for index, layer in enumerate(tuned.layers) if layer is base.layers[index]]
    assert shared and len(shared) < len(tuned.layers)
    for index in range(len(tuned.layers)):
        assert (tuned_stack.layers[index] is base_stack.layers[index]) == (index in shared)


@needs_kernel
def test_offensive_decisions_are_the_float_forwards_and_the_benign_set_is_never_flagged(
    int8_on: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.moderation.classifier import OffensiveClassifier

    data = Path(__file__).resolve().parents[2] / "bot" / "moderation" / "data" / "benign_regression.txt"
    benign = [line for line in data.read_text(encoding="utf-8").splitlines() if line.strip() and line[0] != "#"]
    texts = [*TEXTS, *benign, "you are a complete idiot", "shut up, moron", "go to hell you piece of trash"]
    classifier = OffensiveClassifier.load()
    int8 = np.asarray(classifier.score_batch(texts))
    monkeypatch.setenv("SOCIALBOT_MINILM_INT8", "0")
    reference = np.asarray(classifier.score_batch(texts))
    assert float(np.abs(int8 - reference).max()) < 0.03
    assert np.array_equal(int8 >= classifier.threshold, reference >= classifier.threshold)


@needs_kernel
def test_products_with_coarse_activations_meet_their_weights_with_one_level_and_stay_near_the_float_forward() -> None:
    from bot.minilm_int8 import Int8Layer, Int8Stack, random_layer
    from bot.minilm_layers import EncoderConfig

    kernel = load_minilm_kernel()
    assert kernel is not None
    config = EncoderConfig(hidden_size=64, num_layers=2, num_heads=4, intermediate_size=128)
    layers = [random_layer(config, seed) for seed in range(config.num_layers)]
    offsets = np.array([0, 3, 20], dtype=np.int64)  # lengths off the tiles' 6 and 3 rows
    states = np.random.default_rng(2).standard_normal((20, config.hidden_size)).astype(np.float32)

    def error(coarse: frozenset[str]) -> float:
        int8 = tuple(Int8Layer.from_layer(layer, coarse=coarse) for layer in layers)
        got = Int8Stack(kernel, config, int8)(states, offsets)
        worst = 0.0
        for begin, end in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True):
            expected = states[None, begin:end]
            for layer in (dequantized_layer(layer, rounded) for layer, rounded in zip(layers, int8, strict=True)):
                bias = np.zeros((1, 1, 1, end - begin), np.float32)
                expected = layer.forward(expected, bias, config.num_heads, config.layer_norm_eps)
            worst = max(worst, float(np.abs(got[begin:end] - expected[0]).max()))
        return worst

    two_levels, one_level = error(frozenset()), error(frozenset({"attention_output", "intermediate"}))
    assert two_levels < 2e-3  # ~15-bit activations
    assert 10 * two_levels < one_level < 0.05  # 7-bit ones in two of the four products: the kernel took the flag


@needs_kernel
def test_shapes_the_kernel_does_not_take_keep_the_float_forward() -> None:
    from bot.minilm_layers import EncoderConfig

    kernel = load_minilm_kernel()
    assert kernel is not None
    assert kernel.supports(EncoderConfig())
    assert not kernel.supports(EncoderConfig(hidden_size=96, num_heads=4))  # outputs not a multiple of 64
    assert not kernel.supports(EncoderConfig(hidden_size=384, num_heads=32))  # heads 12 wide


def test_without_a_compiler_the_float_forward_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    load_minilm_kernel.cache_clear()
    try:
        with caplog.at_level(logging.WARNING):
            assert load_minilm_kernel(tmp_path / "kernels") is None
    finally:
        load_minilm_kernel.cache_clear()
    assert "could not build the MiniLM int8 kernel" in caplog.text


@needs_kernel
def test_the_sentiment_encoder_rounds_two_products_activations_once_and_the_shared_encoder_keeps_both_levels(
    int8_on: None,
) -> None:
    from bot.insight.encoder_sentiment import SENTIMENT_LAYERS_FILE, EncoderSentiment
    from bot.insight.sentiment import default_weights_dir

    sentiment = EncoderSentiment.load(default_weights_dir() / SENTIMENT_LAYERS_FILE).encoder.int8_stack()
    shared = shared_bundled_encoder().int8_stack()
    assert sentiment is not None and shared is not None
    for layer in shared.layers:
        products = (layer.qkv, layer.attention_output, layer.intermediate, layer.output)
        assert [product.activation_levels[0] for product in products] == [2, 2, 2, 2]
    for layer in sentiment.layers:
        assert [layer.qkv.activation_levels[0], layer.output.activation_levels[0]] == [2, 2]
        assert [layer.attention_output.activation_levels[0], layer.intermediate.activation_levels[0]] == [1, 1]


@needs_kernel
def test_a_batch_split_between_threads_gives_the_same_vectors_as_one_thread(int8_on: None) -> None:
    encoder, tokenizer = shared_bundled_encoder(), EncoderTokenizer()
    texts = [*TEXTS, *(f"message number {index} about an order" for index in range(12))]
    ids, mask = tokenizer.arrays(texts)
    one_thread = encoder(ids, mask)
    set_kernel_threads(3)
    try:
        three_threads = encoder(ids, mask)
    finally:
        set_kernel_threads(1)
    assert np.array_equal(one_thread, three_threads)


def test_threads_get_whole_sequences_of_about_equal_tokens_and_small_batches_stay_whole() -> None:
    offsets = np.cumsum([0, 5, 30, 4, 4, 4, 4, 40, 3, 3, 3]).astype(np.int64)
    parts = token_balanced_parts(offsets, 2)
    assert parts[0][0] == 0 and parts[-1][1] == len(offsets) - 1
    assert all(end == start for (_, end), (start, _) in itertools.pairwise(parts))
    assert len(parts) == 2
    assert token_balanced_parts(offsets[:5], 2) == [(0, 4)]  # under PARALLEL_MIN_SEQUENCES
    assert token_balanced_parts(offsets, 1) == [(0, len(offsets) - 1)]


@needs_kernel
@pytest.mark.parametrize("coarse", [frozenset(), frozenset({"attention_output", "intermediate"})])
def test_a_tokens_states_do_not_depend_on_which_tile_its_row_falls_in(coarse: frozenset[str]) -> None:
    from bot.minilm_int8 import Int8Layer, Int8Stack, random_layer
    from bot.minilm_layers import EncoderConfig

    kernel = load_minilm_kernel()
    assert kernel is not None
    config = EncoderConfig(hidden_size=64, num_layers=2, num_heads=4, intermediate_size=128)
    layers = tuple(
        Int8Layer.from_layer(random_layer(config, seed), fine=frozenset({"output"}), coarse=coarse)
        for seed in range(config.num_layers)
    )
    stack = Int8Stack(kernel, config, layers)
    lengths = [1, 2, 3, 4, 5, 7]  # packed, every row lands at another place in the kernel's tiles of 1, 2 and 4
    offsets = np.cumsum([0, *lengths]).astype(np.int64)
    states = np.random.default_rng(5).standard_normal((int(offsets[-1]), config.hidden_size)).astype(np.float32)
    packed = stack(states, offsets)
    for begin, end in itertools.pairwise(offsets.tolist()):
        alone = stack(states[begin:end], np.array([0, end - begin], dtype=np.int64))
        assert np.array_equal(alone, packed[begin:end])  # integer sums are exact: bit for bit
