"""The memory feature's fixed texts, read from `texts.toml` next to this module (owner-editable wording)."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

TEXTS_FILE = Path(__file__).with_name("texts.toml")
DEFAULT_LANGUAGE = "en"


@cache
def _catalogue() -> dict[str, dict[str, str]]:
    with TEXTS_FILE.open("rb") as handle:
        return tomllib.load(handle)


def text(key: str, language: str = DEFAULT_LANGUAGE, **values: object) -> str:
    """The text `key` in `language` (English when that language lacks it), with `values` filled in."""
    catalogue = _catalogue()
    template = catalogue.get(language, {}).get(key) or catalogue[DEFAULT_LANGUAGE][key]
    return template.format(**values)


def languages() -> list[str]:
    return list(_catalogue())
