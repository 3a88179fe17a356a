"""Where the converted bundled model is cached, and whether the cache is complete (no torch import here)."""

from __future__ import annotations

from pathlib import Path

from bot.engine.settings import EngineSettings

CACHE_MARKER = "socialbot-converted.txt"


def model_cache_dir(settings: EngineSettings) -> Path:
    """The directory holding the converted safetensors copy of a bundled model."""
    name = settings.model.split(":", 1)[1] if ":" in settings.model else settings.model
    base = settings.cache_dir or Path.home() / ".cache" / "socialbot" / "models"
    return Path(base).expanduser() / name.replace("/", "--")


def is_cache_complete(directory: Path) -> bool:
    """True once a conversion finished there (the marker is written last)."""
    return (directory / CACHE_MARKER).is_file() and (directory / "config.json").is_file()
