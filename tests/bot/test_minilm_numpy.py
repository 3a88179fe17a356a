"""The numpy MiniLM forward: the same vectors and scores as the torch model the heads were trained on."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from bot.kb.answerability import LAYERS_FILE as ANSWERABILITY_LAYERS
from bot.kb.answerability import PairTokenizer
from bot.kb.answerability import default_weights_dir as kb_weights_dir
from bot.minilm_layers import erf, gelu
from bot.minilm_numpy import LinearHead, NumpyMiniLM
from bot.minilm_torch import MiniLMEncoder, load_finetuned_torch
from bot.moderation.classifier import LAYERS_FILE, OffensiveClassifier, default_weights_dir, load_finetuned_minilm
from bot.moderation.embeddings_features import EncoderTokenizer, shared_bundled_encoder
from tests.support import ENCODER_EDGE_TEXTS

# These hold the float numpy forward to the torch/transformers model within 1e-5.
pytestmark = pytest.mark.usefixtures("float_minilm")


TEXTS = ENCODER_EDGE_TEXTS
OLID = Path(__file__).resolve().parents[2] / "../shared/data/olid/olid-training-v1.0.tsv"


@pytest.fixture(scope="module")
def torch_encoder() -> MiniLMEncoder:
    return MiniLMEncoder.from_pretrained()


def torch_pooled(encoder: MiniLMEncoder, tokenizer: EncoderTokenizer, texts: list[str]) -> np.ndarray:
    with torch.inference_mode():
        return encoder(*tokenizer(texts)).numpy()


def test_pooled_vectors_equal_the_torch_model_within_1e5_one_by_one_and_padded(torch_encoder: MiniLMEncoder) -> None:
    tokenizer = EncoderTokenizer(max_tokens=256)
    ours = shared_bundled_encoder()
    batched = ours(*tokenizer.arrays(TEXTS))
    assert batched.shape == (len(TEXTS), 384) and batched.dtype == np.float32
    assert float(np.abs(batched - torch_pooled(torch_encoder, tokenizer, TEXTS)).max()) < 1e-5
    for text in TEXTS:
        single = ours(*tokenizer.arrays([text]))
        assert float(np.abs(single - torch_pooled(torch_encoder, tokenizer, [text])).max()) < 1e-5


def test_fine_tuned_offensive_scores_equal_the_torch_model_within_1e5() -> None:
    torch_encoder, torch_head = load_finetuned_torch(default_weights_dir() / LAYERS_FILE)
    classifier = OffensiveClassifier.load(blend=False)  # the MiniLM's own forward (the lexical blend aside)
    tokenizer = EncoderTokenizer(max_tokens=classifier.metadata.max_tokens)
    with torch.inference_mode():
        expected = torch.sigmoid(torch_head(torch_encoder(*tokenizer(TEXTS)))).tolist()
    assert classifier.score_batch(TEXTS) == pytest.approx(expected, abs=1e-5)
    assert [classifier.score(text) for text in TEXTS] == pytest.approx(expected, abs=1e-5)


def test_answerability_pairs_with_token_types_equal_the_torch_model() -> None:
    torch_encoder, torch_head = load_finetuned_torch(kb_weights_dir() / ANSWERABILITY_LAYERS)
    encoder, head = load_finetuned_minilm(kb_weights_dir() / ANSWERABILITY_LAYERS)
    batch = PairTokenizer()([("Do you sell phones?", "Mobile app: not yet."), ("Where is my order? 😀", "")])
    with torch.inference_mode():
        expected = torch_head(torch_encoder(batch.input_ids, batch.attention_mask, batch.token_type_ids)).numpy()
    ours = head(encoder(batch.input_ids, batch.attention_mask, batch.token_type_ids))
    assert float(np.abs(ours - expected).max()) < 1e-5


@pytest.mark.skipif(not OLID.is_file(), reason="needs ../shared/data/olid")
def test_olid_decisions_are_identical_to_the_torch_model_on_a_sample() -> None:
    with OLID.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    texts = [row["tweet"] for row in rows[::66]][:200]  # every 66th tweet: a spread sample of 200
    classifier = OffensiveClassifier.load(blend=False)  # the MiniLM's own forward (the lexical blend aside)
    torch_encoder, torch_head = load_finetuned_torch(default_weights_dir() / LAYERS_FILE)
    tokenizer = EncoderTokenizer(
        max_tokens=classifier.metadata.max_tokens, normalization=classifier.metadata.normalization
    )
    expected = []
    with torch.inference_mode():
        for start in range(0, len(texts), 64):
            expected += torch.sigmoid(torch_head(torch_encoder(*tokenizer(texts[start : start + 64])))).tolist()
    ours = classifier.score_batch(texts)
    assert ours == pytest.approx(expected, abs=1e-5)
    threshold = classifier.metadata.threshold
    assert [score >= threshold for score in ours] == [score >= threshold for score in expected]


def test_erf_and_gelu_match_the_exact_functions_to_float32_precision() -> None:
    values = np.linspace(-8.0, 8.0, 4001, dtype=np.float32)
    exact_erf = np.array([math.erf(float(value)) for value in values])
    assert float(np.abs(erf(values) - exact_erf).max()) < 5e-7  # float32 rounding of the A&S formula
    exact_gelu = torch.nn.functional.gelu(torch.from_numpy(values)).numpy()
    assert float(np.abs(gelu(values) - exact_gelu).max()) < 2e-6


def test_layers_that_do_not_fit_are_refused_with_the_parameter_named() -> None:
    base = shared_bundled_encoder()
    with pytest.raises(KeyError, match="not a transformer layer parameter"):
        base.with_layer_overrides({"embeddings.word_embeddings.weight": np.zeros((2, 2), np.float32)})
    with pytest.raises(KeyError, match=r"query\.bias"):
        base.with_layer_overrides({"layers.5.query.weight": np.zeros((384, 384), np.float32)})
    with pytest.raises(ValueError, match="do not fit hidden size 384"):
        LinearHead.from_state({"linear.weight": np.zeros((1, 10)), "linear.bias": np.zeros(1)}, 384)


def test_scoring_a_message_imports_neither_torch_nor_safetensors_torch() -> None:
    code = (
        "import sys\n"
        "from bot.moderation.classifier import OffensiveClassifier\n"
        "assert 0.0 <= OffensiveClassifier.load().score('hello there') <= 1.0\n"
        "print(sorted(name for name in sys.modules if name == 'torch' or name.startswith('torch.')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"


def test_a_numpy_encoder_of_the_wrong_depth_is_refused() -> None:
    base = shared_bundled_encoder()
    with pytest.raises(ValueError, match="5 layers"):
        NumpyMiniLM(base.config, base.embeddings, base.layers[:5])


def test_the_first_forward_on_any_thread_sets_one_blas_thread_for_the_whole_process() -> None:
    code = (
        "import json, threading\n"
        "from threadpoolctl import threadpool_info\n"
        "from bot.moderation.classifier import OffensiveClassifier\n"
        "def blas(): return [i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas']\n"
        "classifier = OffensiveClassifier.load()\n"
        "worker = threading.Thread(target=classifier.score, args=('hello there',)); worker.start(); worker.join()\n"
        "seen = []\n"
        "reader = threading.Thread(target=lambda: seen.append(blas())); reader.start(); reader.join()\n"
        "print(json.dumps([blas(), seen[0]]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    main_thread, other_thread = json.loads(result.stdout.strip().splitlines()[-1])
    assert main_thread and set(main_thread) == {1}
    assert set(other_thread) == {1}


def test_sentiment_log_probabilities_equal_the_torch_model_within_1e5() -> None:
    from safetensors.torch import load_file

    from bot.insight.encoder_sentiment import (
        HEAD_PREFIX,
        MAX_TOKENS,
        SENTIMENT_LAYERS_FILE,
        EncoderSentiment,
        SentimentHead,
        bundled_encoder,
    )

    path = Path(__file__).resolve().parents[2] / "bot" / "insight" / "weights" / SENTIMENT_LAYERS_FILE
    state = load_file(str(path))
    torch_encoder = bundled_encoder().with_layer_overrides(
        {k: v for k, v in state.items() if not k.startswith("head.")}
    )
    head = SentimentHead(384)
    head.load_state_dict(
        {k.removeprefix(HEAD_PREFIX): v.float() for k, v in state.items() if k.startswith(HEAD_PREFIX)}
    )
    with torch.inference_mode():
        expected = head.eval()(torch_encoder(*EncoderTokenizer(max_tokens=MAX_TOKENS)(TEXTS))).log_softmax(-1).numpy()
    ours = EncoderSentiment.load(path)
    assert ours.encoder.embeddings is shared_bundled_encoder().embeddings
    assert float(np.abs(ours.log_probabilities(TEXTS) - expected).max()) < 1e-5
