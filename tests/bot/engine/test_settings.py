"""Engine settings: which weights and thread layout the defaults pick, and what a config can choose."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import engine_settings
from bot.config import load_config
from bot.engine.settings import EngineSettings


def test_int8_weights_are_the_default_on_a_cpu_with_float32_compute() -> None:
    settings = EngineSettings()
    assert settings.int8_weights("cpu")
    assert not settings.int8_weights("cuda")
    assert not EngineSettings(dtype="bfloat16").int8_weights("cpu")


def test_float32_weights_are_selectable() -> None:
    assert not EngineSettings(quantize_int8=False).int8_weights("cpu")


def test_automatic_threads_are_one_with_int8_weights_and_torch_default_otherwise() -> None:
    assert EngineSettings().torch_threads("cpu") == 1
    assert EngineSettings(quantize_int8=False).torch_threads("cpu") == 0
    assert EngineSettings().torch_threads("cuda") == 0
    assert EngineSettings(threads=2).torch_threads("cpu") == 2


def test_negative_threads_are_refused() -> None:
    with pytest.raises(ValueError, match="threads"):
        EngineSettings(threads=-1)


def test_config_without_a_model_section_ships_int8_and_a_config_can_choose_float32(tmp_path: Path) -> None:
    default = tmp_path / "default.toml"
    default.write_text("", encoding="utf-8")
    assert engine_settings(load_config(default)).quantize_int8 is True
    chosen = tmp_path / "float32.toml"
    chosen.write_text("[model]\nquantize_int8 = false\n", encoding="utf-8")
    assert engine_settings(load_config(chosen)).quantize_int8 is False
