"""The compact rule syntax shared by `/rules add|edit` in chat and `socialbot rules add` in the CLI.

    keyword [options] "opening hours" hours -> We're open 9-17 Mon-Fri.
    regex [options] ^order\\s+(?P<id>\\d+) -> Order {id}: check your email.
    similar [options] "how do I reset my password" -> Go to Settings > Account > Reset.
    ... -> prompt:rule_answer            (answer with the model, prompt prompts/rule_answer.md)

Options are `name=value` words right after the kind: priority=5 cooldown=60 (or 2m, 1h) threshold=0.8
match=all name=hours scope=chat|platform|all. A regex is taken verbatim (no quoting needed); keywords and
examples are split at spaces, so put phrases of several words in double quotes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.rules.model import TRIGGER_KINDS, RuleError

ARROW = re.compile(r"\s*->\s*")
OPTION = re.compile(r"^(priority|cooldown|threshold|match|name|scope)=(\S*)$")
DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smh]?)$")
PROMPT_PREFIX = "prompt:"
WORD_OR_QUOTED = re.compile(r'"([^"]*)"|(\S+)')


@dataclass(frozen=True)
class RuleSpec:
    """A parsed rule command: what it sets; None/empty for what it leaves unchanged."""

    trigger_kind: str | None = None
    patterns: tuple[str, ...] = ()
    options: dict[str, str] = field(default_factory=dict)
    response_kind: str | None = None
    response: str | None = None


def parse_duration(value: str) -> float:
    """Seconds from `90`, `90s`, `5m` or `1h`."""
    found = DURATION.match(value.strip().lower())
    if not found:
        raise RuleError(f"'{value}' is not a duration (use seconds, or e.g. 5m, 1h)")
    return float(found.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[found.group(2)]


def parse_rule_spec(text: str, require_trigger: bool = True) -> RuleSpec:
    """Parse `<kind> [options] <trigger> -> <response>`; with `require_trigger=False` (edit) both parts
    are optional: `[options] [-> response]` or a full new trigger."""
    if ARROW.search(text):
        head, response = (part.strip() for part in ARROW.split(text.strip(), maxsplit=1))
    else:
        head, response = text.strip(), ""
    kind, rest = _split_first(head)
    if kind.lower() not in TRIGGER_KINDS:
        if require_trigger:
            raise RuleError(f"start with the trigger kind: {', '.join(TRIGGER_KINDS)}")
        kind, rest = "", head
    options, rest = _take_options(rest)
    patterns: tuple[str, ...] = ()
    if kind:
        patterns = _patterns(kind.lower(), rest)
        if not patterns:
            raise RuleError(f"give the {kind.lower()} trigger before '->'")
    elif rest:
        raise RuleError(f"I don't understand '{rest[:40]}': use name=value options or a new trigger kind")
    if require_trigger and not response:
        raise RuleError("add the reply after '->', e.g. keyword hours -> We're open 9-17.")
    response_kind, response_text = None, None
    if response:
        if response.startswith(PROMPT_PREFIX):
            response_kind, response_text = "prompt", response[len(PROMPT_PREFIX) :].strip()
        else:
            response_kind, response_text = "template", response
    return RuleSpec(kind.lower() or None, patterns, options, response_kind, response_text)


def _split_first(text: str) -> tuple[str, str]:
    parts = text.split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""


def _take_options(text: str) -> tuple[dict[str, str], str]:
    options: dict[str, str] = {}
    rest = text
    while rest:
        word, remainder = _split_first(rest)
        found = OPTION.match(word)
        if not found:
            break
        options[found.group(1)] = found.group(2)
        rest = remainder
    return options, rest.strip()


def _patterns(kind: str, text: str) -> tuple[str, ...]:
    if kind == "regex":
        pattern = text.strip()
        if len(pattern) >= 2 and pattern[0] == pattern[-1] and pattern[0] in "\"'":
            pattern = pattern[1:-1]
        return (pattern,) if pattern else ()
    if text.count('"') % 2:
        raise RuleError("a quote is not closed")
    if kind == "similar" and '"' not in text:
        return (text.strip(),) if text.strip() else ()
    return tuple(
        " ".join((quoted or bare).split()) for quoted, bare in WORD_OR_QUOTED.findall(text) if (quoted or bare).strip()
    )
