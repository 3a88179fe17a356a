"""Prompt templates as files in `prompts/` (shipped as `bot/bundled_prompts`), rendered with sandboxed Jinja.

Each template names the variables it expects in its first line (`{#- variables: a, b -#}`); rendering with a
missing variable is an error, so a template and its caller cannot silently drift apart. A translation lives in a
language folder (`prompts/es/kb_decline.md`) and is used for turns in that language (see `bot.i18n`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateNotFound, UndefinedError
from jinja2.loaders import FileSystemLoader
from jinja2.sandbox import SandboxedEnvironment

from bot.i18n import current_language

# The repository's top-level prompts/ folder, shipped as package data: bot/bundled_prompts links to it, and
# a built wheel holds the files themselves there.
BUNDLED_PROMPTS_DIR = Path(__file__).resolve().parent / "bundled_prompts"
VARIABLES_LINE = re.compile(r"\{#-?\s*variables:(?P<names>[^#-]*)-?#\}")


class PromptError(Exception):
    """A template is missing or was rendered without a variable it needs."""


class PromptLibrary:
    """Loads templates by name (`persona` -> `persona.md`), user folders first, bundled last."""

    def __init__(self, folders: Sequence[Path] = ()) -> None:
        search = [str(folder) for folder in folders] + [str(BUNDLED_PROMPTS_DIR)]
        self._env = SandboxedEnvironment(
            loader=FileSystemLoader(search),
            undefined=StrictUndefined,
            keep_trailing_newline=False,
            autoescape=False,
        )

    def localized_name(self, name: str, language: str | None = None) -> str:
        """`<language>/<name>` when that translation exists (in any folder), else `name`."""
        code = language or current_language()
        if code and "/" not in name:
            try:
                self._env.loader.get_source(self._env, f"{code}/{name}.md")  # type: ignore[union-attr]
            except TemplateNotFound:
                return name
            return f"{code}/{name}"
        return name

    def source(self, name: str) -> str:
        try:
            source, _, _ = self._env.loader.get_source(self._env, f"{name}.md")  # type: ignore[union-attr]
        except TemplateNotFound:
            raise PromptError(f"prompt '{name}' not found (looked for {name}.md in the prompts folders)") from None
        return source

    def variables(self, name: str) -> list[str]:
        """The variables a template declares on its first line."""
        match = VARIABLES_LINE.search(self.source(name).split("\n", 1)[0])
        if not match:
            return []
        return [part.strip() for part in match.group("names").split(",") if part.strip()]

    def render(self, name: str, /, **values: Any) -> str:
        """The template in the turn's language when translated, else the default one, rendered with `values`."""
        return self.render_in(None, name, **values)

    def render_in(self, language: str | None, name: str, /, **values: Any) -> str:
        """`render` in `language` (None: the current turn's language)."""
        name = self.localized_name(name, language)
        try:
            template = self._env.get_template(f"{name}.md")
        except TemplateNotFound:
            raise PromptError(f"prompt '{name}' not found (looked for {name}.md in the prompts folders)") from None
        missing = [variable for variable in self.variables(name) if variable not in values]
        if missing:
            raise PromptError(f"prompt '{name}' needs {', '.join(missing)}")
        try:
            return template.render(**values).strip()
        except UndefinedError as exc:
            raise PromptError(f"prompt '{name}': {exc.message}") from None

    def has(self, name: str) -> bool:
        try:
            self.source(name)
        except PromptError:
            return False
        return True
