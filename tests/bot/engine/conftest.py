"""Shared fixtures for engine tests: the bundled model converted once per test session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.engine.loader import LoadedModel, load_model
from bot.engine.settings import EngineSettings


@pytest.fixture(scope="session")
def bundled_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache directory holding the bundled SmolLM2 converted to safetensors (~20 s, once)."""
    cache = tmp_path_factory.mktemp("models")
    load_model(EngineSettings(cache_dir=cache, quantize_int8=False), progress=lambda _: None)
    return cache


@pytest.fixture(scope="session")
def model_settings(bundled_model_dir: Path) -> EngineSettings:
    """fp32 CPU settings (float32 weights, not the int8 default) over the session's converted model, as
    the correctness tests that compare with transformers' float32 model need.

    One torch thread: on a small shared machine, two threads lose far more to waiting for each
    other than they gain whenever another process holds a core.
    """
    return EngineSettings(cache_dir=bundled_model_dir, dtype="float32", quantize_int8=False, device="cpu", threads=1)


@pytest.fixture(scope="session")
def loaded_model(model_settings: EngineSettings) -> LoadedModel:
    """One loaded model shared by all engine tests (engines never modify weights)."""
    return load_model(model_settings, progress=lambda _: None)


@pytest.fixture
def engine_settings(model_settings: EngineSettings) -> Iterator[EngineSettings]:
    yield replace(model_settings, request_timeout_s=60.0)
