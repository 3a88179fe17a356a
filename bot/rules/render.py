"""Safe rendering of fixed auto-reply texts: `{user}`, `{chat}`, `{1}`, `{name}` and nothing more.

Placeholders are replaced by plain lookups in a dict, never by `str.format`, so a template cannot reach
attributes (`{user.__class__}`) or format specs; unknown placeholders stay as written, `{{`/`}}` are braces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]{0,31}|[0-9]{1,2})\}")
MAX_VALUE_CHARS = 200


def render_template(template: str, values: Mapping[str, str]) -> str:
    """`template` with each known `{name}` replaced by its value (cut to 200 characters)."""

    def substitute(found: re.Match[str]) -> str:
        token = found.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = found.group(1)
        if name in values:
            return values[name][:MAX_VALUE_CHARS]
        return token

    return PLACEHOLDER.sub(substitute, template)


def placeholders(template: str) -> list[str]:
    """The placeholder names a template uses, in order, without duplicates."""
    seen: dict[str, None] = {}
    for found in PLACEHOLDER.finditer(template):
        if found.group(1):
            seen.setdefault(found.group(1), None)
    return list(seen)
