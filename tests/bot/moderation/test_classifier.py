"""The shipped offensive-language classifier and the Hugging Face wrapper."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from bot.kb.answerability import LAYERS_FILE as ANSWERABILITY_LAYERS
from bot.kb.answerability import default_weights_dir as kb_weights_dir
from bot.moderation.classifier import (
    LAYERS_FILE,
    LEXICAL_METADATA_FILE,
    LEXICAL_WEIGHTS_FILE,
    METADATA_FILE,
    ClassifierLoadError,
    HFSequenceClassifier,
    OffensiveClassifier,
    default_weights_dir,
    load_finetuned_minilm,
)
from bot.moderation.embeddings_features import (
    EncoderTokenizer,
    bundled_encoder_dir,
    embed_texts,
    shared_bundled_encoder,
)
from bot.moderation.linear_text import HashedFeatures, LinearTextModel, save_linear_model


@pytest.fixture(scope="module")
def classifier() -> Iterator[OffensiveClassifier]:
    yield OffensiveClassifier.load()


@pytest.fixture(scope="module")
def minilm_alone() -> Iterator[OffensiveClassifier]:
    yield OffensiveClassifier.load(blend=False)


def test_scores_are_probabilities_and_deterministic(classifier: OffensiveClassifier) -> None:
    text = "@USER you are such a clown lol"
    first = classifier.score(text)
    assert 0.0 <= first <= 1.0
    assert classifier.score(text) == first
    assert OffensiveClassifier.load().score(text) == pytest.approx(first, abs=1e-6)


def test_obviously_offensive_text_scores_higher_than_a_polite_one(classifier: OffensiveClassifier) -> None:
    offensive = classifier.score("Shut up you fucking idiot, nobody cares about your stupid opinion")
    polite = classifier.score("Thank you so much for your help, have a lovely evening!")
    assert offensive > classifier.threshold > polite
    assert offensive - polite > 0.5


def test_score_batch_keeps_input_order_and_matches_single_scores(classifier: OffensiveClassifier) -> None:
    texts = ["what a lovely morning", "go to hell, moron", "ok", "You are all a bunch of worthless losers 😡"]
    batch = classifier.score_batch(texts)
    assert batch == pytest.approx([classifier.score(text) for text in texts], abs=1e-5)
    assert classifier.score_batch([]) == []


def test_loading_from_a_directory_without_weights_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ClassifierLoadError, match=r"train_moderation\.py"):
        OffensiveClassifier.load(tmp_path)


def test_weights_naming_an_unknown_text_normalisation_are_refused(tmp_path: Path) -> None:
    shipped = default_weights_dir()
    shutil.copy(shipped / LAYERS_FILE, tmp_path / LAYERS_FILE)
    metadata = json.loads((shipped / METADATA_FILE).read_text(encoding="utf-8"))
    (tmp_path / METADATA_FILE).write_text(json.dumps({**metadata, "normalization": "shouting"}), encoding="utf-8")
    with pytest.raises(ClassifierLoadError, match="normalisation 'shouting'"):
        OffensiveClassifier.load(tmp_path)


def _minilm_only_weights(directory: Path) -> Path:
    shipped = default_weights_dir()
    for name in (LAYERS_FILE, METADATA_FILE):
        shutil.copy(shipped / name, directory / name)
    return directory


def _write_blend(
    directory: Path,
    minilm_weight: float,
    threshold: float,
    lexical_probability: float,
    calibrated: dict[str, float] | None = None,
) -> None:
    """A lexical model that gives every text ``lexical_probability`` (no n-gram weights, only the intercept)."""
    features = HashedFeatures("word", 1, 1, 2**10)
    model = LinearTextModel(
        features,
        np.ones(features.n_features, dtype=np.float32),
        np.zeros(features.n_features, dtype=np.float32),
        float(np.log(lexical_probability / (1 - lexical_probability))),
    )
    blend: dict[str, object] = {"minilm_weight": minilm_weight, "threshold": threshold}
    if calibrated is not None:
        blend["calibrated"] = calibrated
    save_linear_model(model, directory / LEXICAL_WEIGHTS_FILE, directory / LEXICAL_METADATA_FILE, {"blend": blend})


def _logit(probability: float) -> float:
    return float(np.log(probability / (1 - probability)))


TEXTS = ["what a lovely morning", "shut up you stupid bitch", "@USER URL #MAGA"]


def test_the_shipped_classifier_adds_the_lexical_model_by_its_calibrated_log_odds_weights(
    classifier: OffensiveClassifier, minilm_alone: OffensiveClassifier
) -> None:
    blend = classifier.lexical
    assert blend is not None and blend.calibrated is not None and classifier.threshold == blend.threshold
    weights = blend.calibrated
    lexical = blend.model.score_batch(TEXTS)
    expected = [
        1 / (1 + np.exp(-(weights.minilm * _logit(m) + weights.lexical * _logit(x) + weights.intercept)))
        for m, x in zip(minilm_alone.score_batch(TEXTS), lexical, strict=True)
    ]
    assert classifier.score_batch(TEXTS) == pytest.approx(expected, abs=1e-6)


def test_a_lexical_blend_beside_the_weights_averages_the_two_models_and_brings_its_threshold(
    minilm_alone: OffensiveClassifier, tmp_path: Path
) -> None:
    directory = _minilm_only_weights(tmp_path)
    _write_blend(directory, minilm_weight=0.8, threshold=0.46, lexical_probability=0.9)
    blended = OffensiveClassifier.load(directory)
    assert blended.lexical is not None and blended.threshold == 0.46
    expected = [0.8 * score + 0.2 * 0.9 for score in minilm_alone.score_batch(TEXTS)]
    assert blended.score_batch(TEXTS) == pytest.approx(expected, abs=1e-6)
    assert OffensiveClassifier.load(directory, blend=False).score_batch(TEXTS) == pytest.approx(
        minilm_alone.score_batch(TEXTS), abs=1e-6
    )


def test_a_calibrated_blend_sums_the_weighted_log_odds_instead_of_averaging(
    minilm_alone: OffensiveClassifier, tmp_path: Path
) -> None:
    directory = _minilm_only_weights(tmp_path)
    calibrated = {"minilm": 0.6, "lexical": 0.25, "intercept": -0.1}
    _write_blend(directory, minilm_weight=0.7, threshold=0.46, lexical_probability=0.9, calibrated=calibrated)
    blended = OffensiveClassifier.load(directory)
    expected = [
        1 / (1 + np.exp(-(0.6 * _logit(score) + 0.25 * _logit(0.9) - 0.1))) for score in minilm_alone.score_batch(TEXTS)
    ]
    assert blended.score_batch(TEXTS) == pytest.approx(expected, abs=1e-6)


def test_a_calibrated_blend_with_a_weight_that_is_not_a_number_is_refused(tmp_path: Path) -> None:
    directory = _minilm_only_weights(tmp_path)
    calibrated = {"minilm": float("nan"), "lexical": 0.25, "intercept": 0.0}
    _write_blend(directory, minilm_weight=0.7, threshold=0.46, lexical_probability=0.9, calibrated=calibrated)
    with pytest.raises(ClassifierLoadError, match="finite"):
        OffensiveClassifier.load(directory)
    _write_blend(directory, minilm_weight=0.7, threshold=0.46, lexical_probability=0.9, calibrated={"minilm": 1.0})
    with pytest.raises(ClassifierLoadError, match="not a usable lexical blend"):
        OffensiveClassifier.load(directory)


def test_a_lexical_blend_with_an_unusable_setting_is_refused(tmp_path: Path) -> None:
    directory = _minilm_only_weights(tmp_path)
    _write_blend(directory, minilm_weight=1.5, threshold=0.46, lexical_probability=0.5)
    with pytest.raises(ClassifierLoadError, match="out of range"):
        OffensiveClassifier.load(directory)
    (directory / LEXICAL_WEIGHTS_FILE).unlink()
    with pytest.raises(ClassifierLoadError, match=r"train_offensive_blend\.py"):
        OffensiveClassifier.load(directory)


@pytest.mark.usefixtures("float_minilm")
def test_own_encoder_matches_the_transformers_model() -> None:
    from transformers import AutoModel, AutoTokenizer

    model_dir = bundled_encoder_dir()
    texts = ["hello there, how are you?", "a much longer sentence that needs some padding in the batch"]
    ours = torch.from_numpy(embed_texts(shared_bundled_encoder(), EncoderTokenizer(), texts, normalize=False))
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModel.from_pretrained(str(model_dir)).eval()
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"][..., None].float()
    reference = (hidden * mask).sum(1) / mask.sum(1)
    assert torch.allclose(ours, reference, atol=1e-4)


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny randomly initialised BERT classifier with labels NOT/OFF, saved locally."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    directory = tmp_path_factory.mktemp("tiny_hf_model")
    words = ["you", "are", "an", "idiot", "thank", "for", "the", "help", "nice", "day"]
    vocab = directory / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(vocab_file=str(vocab))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(words) + 5,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        id2label={0: "NOT", 1: "OFF"},
        label2id={"NOT": 0, "OFF": 1},
    )
    BertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_hf_wrapper_scores_the_named_label_of_a_local_model(tiny_model_dir: Path) -> None:
    by_name = HFSequenceClassifier(str(tiny_model_dir), offensive_label="OFF")
    by_index = HFSequenceClassifier(str(tiny_model_dir), offensive_label=1)
    other = HFSequenceClassifier(str(tiny_model_dir), offensive_label="NOT")
    texts = ["you are an idiot", "thank you for the help, nice day"]
    scores = by_name.score_batch(texts)
    assert all(0.0 <= score <= 1.0 for score in scores)
    assert scores == by_index.score_batch(texts)
    assert by_name.score(texts[0]) == pytest.approx(scores[0], abs=1e-6)
    assert [a + b for a, b in zip(scores, other.score_batch(texts), strict=True)] == pytest.approx([1.0, 1.0])


def test_hf_wrapper_rejects_an_unknown_label(tiny_model_dir: Path) -> None:
    with pytest.raises(ClassifierLoadError, match="toxic"):
        HFSequenceClassifier(str(tiny_model_dir), offensive_label="toxic")


def test_concurrent_scoring_from_threads_gives_the_same_scores(classifier: OffensiveClassifier) -> None:
    from concurrent.futures import ThreadPoolExecutor

    texts = ["you clown", "lovely weather today", "shut up idiot", "see you at the meetup"] * 2
    expected = [classifier.score(text) for text in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(classifier.score, texts)) == pytest.approx(expected, abs=1e-6)


def test_hf_wrapper_reports_a_missing_model_directory(tmp_path: Path) -> None:
    with pytest.raises(ClassifierLoadError):
        HFSequenceClassifier(str(tmp_path / "nowhere"), offensive_label="OFF")


def test_classifiers_over_the_bundled_encoder_share_its_frozen_parts() -> None:
    offensive = load_finetuned_minilm(default_weights_dir() / LAYERS_FILE)[0]
    judge = load_finetuned_minilm(kb_weights_dir() / ANSWERABILITY_LAYERS)[0]
    assert offensive.embeddings is judge.embeddings
    assert offensive.layers[0] is judge.layers[0]  # both fine-tuned only layers 2 and up
    assert offensive.layers[5] is not judge.layers[5]
    assert not np.array_equal(offensive.layers[5].qkv_weight, judge.layers[5].qkv_weight)


def test_overriding_a_parameter_outside_the_transformer_layers_is_refused(tmp_path: Path) -> None:
    weights = tmp_path / "layers.safetensors"
    save_file({"embeddings.word_embeddings.weight": torch.zeros(2, 2)}, str(weights))
    with pytest.raises(ClassifierLoadError, match="not a transformer layer parameter"):
        load_finetuned_minilm(weights)


def test_bulk_batches_score_close_to_full_precision_and_single_texts_stay_exact(
    classifier: OffensiveClassifier,
) -> None:
    from bot.moderation.classifier import BFLOAT16_MIN_BATCH

    texts = [
        f"message number {index}: you are such an idiot" if index % 3 else f"lunch at {index}?" for index in range(20)
    ]
    assert len(texts) >= BFLOAT16_MIN_BATCH
    exact = classifier.score_batch(texts)
    classifier.bfloat16_batches = True
    try:
        bulk = classifier.score_batch(texts)
        single = classifier.score(texts[1])
    finally:
        classifier.bfloat16_batches = False
    assert bulk == pytest.approx(exact, abs=0.05)
    assert single == pytest.approx(exact[1], abs=1e-5)
