"""Prompt files: every template declares its variables and renders only with all of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.prompts import BUNDLED_PROMPTS_DIR, PromptError, PromptLibrary


def test_every_bundled_prompt_declares_its_variables() -> None:
    for path in BUNDLED_PROMPTS_DIR.glob("*.md"):
        assert path.read_text(encoding="utf-8").startswith("{#- variables:"), path.name


def test_missing_variable_is_an_error() -> None:
    with pytest.raises(PromptError, match="needs"):
        PromptLibrary().render("persona", bot_name="x")


def test_user_folder_overrides_bundled_prompt(tmp_path: Path) -> None:
    (tmp_path / "persona.md").write_text("{#- variables: bot_name -#}\nI am {{ bot_name }}, a pirate.")
    text = PromptLibrary([tmp_path]).render("persona", bot_name="Polly", community_name="", tone="", today="")
    assert text == "I am Polly, a pirate."


def test_templates_are_sandboxed(tmp_path: Path) -> None:
    (tmp_path / "evil.md").write_text("{#- variables: x -#}\n{{ x.__class__.__mro__ }}")
    with pytest.raises(Exception, match=r"unsafe|access"):
        PromptLibrary([tmp_path]).render("evil", x="s")


def test_unknown_prompt_names_the_file() -> None:
    with pytest.raises(PromptError, match=r"nope\.md"):
        PromptLibrary().render("nope")
