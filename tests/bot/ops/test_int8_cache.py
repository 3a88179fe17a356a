"""The int8 weights are quantized once and kept beside the converted model: the next start maps them from that
file (not copied, not quantized again) and computes the same logits; a bad cache file is replaced."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from bot.engine.int8_linear import Int8Linear, load_int8_kernel
from bot.engine.loader import INT8_CACHE_PREFIX, LoadedModel, int8_cache_path, load_model
from bot.engine.model_cache import is_cache_complete, model_cache_dir
from bot.engine.settings import EngineSettings

pytestmark = pytest.mark.model

PROMPT = "The capital of France is Paris, and the capital of"


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model cache of its own: the machine's converted model linked into it (converted here if missing)."""
    if load_int8_kernel() is None:
        pytest.skip("no int8 kernel on this machine (no C compiler or no AVX2)")
    root = tmp_path_factory.mktemp("models")
    shared = model_cache_dir(EngineSettings())
    if is_cache_complete(shared):
        target = model_cache_dir(EngineSettings(cache_dir=root))
        target.mkdir(parents=True)
        for item in shared.iterdir():
            if item.is_file() and not item.name.startswith(INT8_CACHE_PREFIX):
                (target / item.name).symlink_to(item)
    else:
        load_model(EngineSettings(cache_dir=root, quantize_int8=False), progress=lambda _: None)
    return root


def settings_for(root: Path) -> EngineSettings:
    return EngineSettings(cache_dir=root, device="cpu", threads=1)


def load(root: Path) -> tuple[LoadedModel, list[str]]:
    lines: list[str] = []
    return load_model(settings_for(root), progress=lines.append, direct=True), lines


def logits(loaded: LoadedModel) -> torch.Tensor:
    ids = torch.tensor([loaded.tokenizer.encode(PROMPT)])
    with torch.inference_mode():
        result: torch.Tensor = loaded.model(ids)
    return result


def mapped_files() -> str:
    return Path("/proc/self/maps").read_text() if Path("/proc/self/maps").exists() else ""


def test_the_second_load_maps_the_int8_weights_the_first_quantized_and_computes_the_same_logits(
    cache_root: Path,
) -> None:
    cache = int8_cache_path(model_cache_dir(settings_for(cache_root)), settings_for(cache_root))
    first, first_lines = load(cache_root)
    assert any("Quantizing" in line for line in first_lines) and cache.is_file()
    expected = logits(first)
    del first

    second, second_lines = load(cache_root)
    assert not any("Quantizing" in line for line in second_lines)
    assert any("mapped from the cache" in line for line in second_lines)
    layers = [module for module in second.model.modules() if isinstance(module, Int8Linear)]
    assert layers and all(layer.weight_int8.dtype == torch.int8 for layer in layers)
    assert torch.equal(logits(second), expected)
    if mapped_files():  # Linux: the weights are pages of the cache file, not a private copy
        assert str(cache.resolve()) in mapped_files()


def test_an_unreadable_cache_is_replaced_by_quantizing_again(cache_root: Path) -> None:
    cache = int8_cache_path(model_cache_dir(settings_for(cache_root)), settings_for(cache_root))
    cache.write_bytes(b"not a torch file")
    loaded, lines = load(cache_root)
    assert any("Quantizing" in line for line in lines)
    assert logits(loaded).isfinite().all()
    del loaded
    assert torch.load(cache, mmap=True, weights_only=True)  # a good cache again
    _, lines = load(cache_root)
    assert any("mapped from the cache" in line for line in lines)


def test_the_cache_is_named_after_the_weights_it_was_quantized_from(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    settings = EngineSettings(cache_dir=tmp_path)
    before = int8_cache_path(tmp_path, settings)
    assert before.parent == tmp_path and before.name.startswith(INT8_CACHE_PREFIX)
    assert int8_cache_path(tmp_path, settings) == before
    stat = (tmp_path / "model.safetensors").stat()
    os.utime(tmp_path / "model.safetensors", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert int8_cache_path(tmp_path, settings) != before  # new weights: quantized again, not the old cache
    assert int8_cache_path(tmp_path, EngineSettings(cache_dir=tmp_path, dtype="bfloat16")) != before
