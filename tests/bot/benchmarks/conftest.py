"""The benchmarks measure the real engine: its fixtures (the bundled model, loaded once) come from the engine's."""

from tests.bot.engine.conftest import bundled_model_dir, loaded_model, model_settings

__all__ = ["bundled_model_dir", "loaded_model", "model_settings"]
