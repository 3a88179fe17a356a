"""Build the configured engine backend from settings."""

from __future__ import annotations

from bot.engine.base import Engine
from bot.engine.loader import ProgressCallback
from bot.engine.settings import EngineSettings


def create_engine(settings: EngineSettings, progress: ProgressCallback | None = None) -> Engine:
    """The engine ``settings.backend`` names; call ``await engine.start()`` before use."""
    if settings.backend == "openai":
        from bot.engine.openai_engine import OpenAIEngine

        return OpenAIEngine(settings)
    from bot.engine.transformers_engine import TransformersEngine

    return TransformersEngine(settings, progress=progress)
