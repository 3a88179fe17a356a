"""Hashed TF-IDF linear models: what is saved is what scores, and bad files are named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfTransformer

from bot.moderation.linear_text import (
    HashedFeatures,
    LinearModelLoadError,
    LinearTextModel,
    idf_from_counts,
    load_linear_model,
    save_linear_model,
)

TEXTS = ["the cat sat", "the dog barked loudly", "a cat and a dog", "nothing here at all"]


def make_model() -> LinearTextModel:
    features = HashedFeatures("word", 1, 2, 2**12)
    counts = features.vectorizer().transform(TEXTS).tocsr()
    coef = np.zeros(features.n_features, dtype=np.float32)
    coef[counts.indices] = np.linspace(-1.0, 1.0, len(counts.indices), dtype=np.float32)
    return LinearTextModel(features, idf_from_counts(counts), coef, 0.25)


def test_idf_matches_scikit_learn() -> None:
    counts = HashedFeatures("char", 1, 3, 2**12).vectorizer().transform(TEXTS).tocsr()
    reference = TfidfTransformer(smooth_idf=True).fit(counts).idf_
    assert idf_from_counts(counts) == pytest.approx(reference, rel=1e-5)


def test_rows_are_unit_length_and_empty_text_scores_the_intercept() -> None:
    model = make_model()
    rows = model.transform(TEXTS)
    assert np.sqrt(rows.multiply(rows).sum(axis=1)).A.ravel() == pytest.approx([1.0] * len(TEXTS))
    assert model.score("") == pytest.approx(1 / (1 + np.exp(-0.25)))


def test_a_saved_model_scores_exactly_like_the_original(tmp_path: Path) -> None:
    model = make_model()
    save_linear_model(model, tmp_path / "m.npz", tmp_path / "m.json", {"threshold": 0.5})
    loaded, metadata = load_linear_model(tmp_path / "m.npz", tmp_path / "m.json", "scripts/x.py")
    probes = [*TEXTS, "an unseen sentence entirely", "cat"]
    assert loaded.score_batch(probes) == pytest.approx(model.score_batch(probes), abs=1e-6)
    assert metadata["threshold"] == 0.5


def test_missing_or_broken_files_name_the_file_and_the_script(tmp_path: Path) -> None:
    with pytest.raises(LinearModelLoadError, match=r"scripts/x\.py"):
        load_linear_model(tmp_path / "m.npz", tmp_path / "m.json", "scripts/x.py")
    save_linear_model(make_model(), tmp_path / "m.npz", tmp_path / "m.json", {})
    (tmp_path / "m.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(LinearModelLoadError, match=r"m\.json"):
        load_linear_model(tmp_path / "m.npz", tmp_path / "m.json", "scripts/x.py")


def test_a_model_of_word_and_character_blocks_round_trips_and_normalises_each_block(tmp_path: Path) -> None:
    blocks = (HashedFeatures("word", 1, 2, 2**12), HashedFeatures("char_wb", 3, 5, 2**12))
    idf = np.concatenate([idf_from_counts(block.vectorizer().transform(TEXTS).tocsr()) for block in blocks])
    coef = np.linspace(-1.0, 1.0, len(idf), dtype=np.float32)
    model = LinearTextModel(blocks, idf, coef, -0.5)
    rows = model.transform(TEXTS)
    assert rows.shape == (len(TEXTS), 2**13)
    for block in (rows[:, : 2**12], rows[:, 2**12 :]):
        assert np.sqrt(block.multiply(block).sum(axis=1)).A.ravel() == pytest.approx([1.0] * len(TEXTS))
    save_linear_model(model, tmp_path / "m.npz", tmp_path / "m.json", {})
    loaded, _ = load_linear_model(tmp_path / "m.npz", tmp_path / "m.json", "scripts/x.py")
    assert loaded.blocks == blocks
    probes = [*TEXTS, "keyloggers hide", ""]
    assert loaded.score_batch(probes) == pytest.approx(model.score_batch(probes), abs=1e-6)


def test_loading_the_shipped_linear_models_imports_no_scikit_learn_until_a_text_is_scored() -> None:
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from bot.moderation.harm import HarmClassifier\n"
        "from bot.moderation.chinese import ChineseOffensiveClassifier\n"
        "harm, chinese = HarmClassifier.load(), ChineseOffensiveClassifier.load()\n"
        "print('sklearn' in sys.modules, 'scipy' in sys.modules)\n"
        "chinese.score('你好')\n"
        "print('sklearn' in sys.modules, 'scipy' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    assert result.stdout.split() == ["False", "False", "True", "True"]
