"""An auto-reply rule: a trigger, a response, where it applies, and how often it may fire."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import re2

TriggerKind = Literal["keyword", "regex", "similar"]
ResponseKind = Literal["template", "prompt"]
MatchMode = Literal["any", "all"]

TRIGGER_KINDS: tuple[str, ...] = ("keyword", "regex", "similar")
RESPONSE_KINDS: tuple[str, ...] = ("template", "prompt")
MAX_PATTERNS = 50
MAX_PATTERN_CHARS = 500
MAX_RESPONSE_CHARS = 4000
# re2 compiles every pattern within this memory; a pattern needing more is refused instead of slowing down.
REGEX_MAX_MEM = 8 << 20


WORD = re.compile(r"\w+")


def words(text: str) -> tuple[str, ...]:
    """The case-folded words of `text`: what keyword triggers compare, whole word by whole word."""
    return tuple(WORD.findall(text.casefold()))


class RuleError(Exception):
    """A rule or a rule command is invalid; the message says what to change."""


def regex_options() -> re2.Options:
    """Options every rule regex is compiled with: case-insensitive, bounded memory, errors not printed."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    options.max_mem = REGEX_MAX_MEM
    return options


def compile_regex(pattern: str) -> Any:
    """Compile `pattern` with re2 (linear-time matching), or raise `RuleError` saying why it can't be."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise RuleError(f"the pattern is longer than {MAX_PATTERN_CHARS} characters")
    try:
        return re2.compile(pattern, regex_options())
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise RuleError(
            f"this regex can't be used: {reason}. Patterns run on re2 (no backreferences or lookarounds)."
        ) from None


@dataclass(frozen=True)
class Rule:
    """One auto-reply rule as stored; `id` is 0 until it is saved.

    `patterns` holds keywords/phrases (keyword), one pattern (regex) or example phrasings (similar).
    `platform` "" and `chats` () mean everywhere; a higher `priority` wins; `cooldown_s` None means the
    configured default.
    """

    trigger_kind: TriggerKind
    patterns: tuple[str, ...]
    response: str
    response_kind: ResponseKind = "template"
    match_mode: MatchMode = "any"
    threshold: float | None = None
    platform: str = ""
    chats: tuple[str, ...] = ()
    priority: int = 0
    cooldown_s: float | None = None
    enabled: bool = True
    name: str = ""
    id: int = 0
    created_by: str = ""
    created_at: str = ""
    updated_at: str = field(default="", compare=False)

    def applies_to(self, platform: str, chat_id: str) -> bool:
        """Whether the rule's scope covers a chat."""
        if self.platform and self.platform != platform:
            return False
        return not self.chats or chat_id in self.chats

    def scope_label(self) -> str:
        if not self.platform and not self.chats:
            return "everywhere"
        where = self.platform or "any platform"
        return f"{where}, chats {', '.join(self.chats)}" if self.chats else f"all {where} chats"

    def to_dict(self) -> dict[str, Any]:
        """The portable form used by export/import and the audit log (no timestamps)."""
        data: dict[str, Any] = {
            "name": self.name,
            "trigger": self.trigger_kind,
            "patterns": list(self.patterns),
            "response_kind": self.response_kind,
            "response": self.response,
            "priority": self.priority,
            "enabled": self.enabled,
        }
        if self.trigger_kind == "keyword":
            data["match"] = self.match_mode
        if self.threshold is not None:
            data["threshold"] = self.threshold
        if self.platform:
            data["platform"] = self.platform
        if self.chats:
            data["chats"] = list(self.chats)
        if self.cooldown_s is not None:
            data["cooldown_s"] = self.cooldown_s
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Rule:
        """A validated rule from its portable form; raises `RuleError` naming the bad field."""
        if not isinstance(data, dict):
            raise RuleError("each rule must be a mapping of fields")
        known = {
            "id",
            "name",
            "trigger",
            "patterns",
            "pattern",
            "response_kind",
            "response",
            "priority",
            "enabled",
            "match",
            "threshold",
            "platform",
            "chats",
            "cooldown_s",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise RuleError(f"unknown field(s): {', '.join(map(str, unknown))}")
        patterns = data.get("patterns", data.get("pattern"))
        if isinstance(patterns, str):
            patterns = [patterns]
        if not isinstance(patterns, list) or not all(isinstance(item, str) for item in patterns):
            raise RuleError("'patterns' must be a list of strings")
        chats = data.get("chats", [])
        if not isinstance(chats, list):
            raise RuleError("'chats' must be a list of chat ids")
        try:
            threshold = data.get("threshold")
            cooldown = data.get("cooldown_s")
            rule = cls(
                trigger_kind=data.get("trigger", ""),
                patterns=tuple(patterns),
                response=str(data.get("response", "")),
                response_kind=data.get("response_kind", "template"),
                match_mode=data.get("match", "any"),
                threshold=None if threshold is None else float(threshold),
                platform=str(data.get("platform", "")),
                chats=tuple(str(chat) for chat in chats),
                priority=int(data.get("priority", 0)),
                cooldown_s=None if cooldown is None else float(cooldown),
                enabled=bool(data.get("enabled", True)),
                name=str(data.get("name", "")),
            )
        except (TypeError, ValueError) as exc:
            raise RuleError(f"bad value: {exc}") from None
        return validate(rule)


def validate(rule: Rule) -> Rule:
    """The rule, normalised, or `RuleError` when it could never work (bad regex, empty trigger...)."""
    if rule.trigger_kind not in TRIGGER_KINDS:
        raise RuleError(f"trigger must be one of {', '.join(TRIGGER_KINDS)}, not '{rule.trigger_kind}'")
    if rule.response_kind not in RESPONSE_KINDS:
        raise RuleError(f"response kind must be one of {', '.join(RESPONSE_KINDS)}")
    if rule.match_mode not in ("any", "all"):
        raise RuleError("match must be 'any' or 'all'")
    patterns = tuple(" ".join(p.split()) if rule.trigger_kind != "regex" else p for p in rule.patterns)
    patterns = tuple(p for p in patterns if p.strip())
    if not patterns:
        raise RuleError("the trigger is empty: give at least one keyword, pattern or example")
    if len(patterns) > MAX_PATTERNS:
        raise RuleError(f"at most {MAX_PATTERNS} keywords or examples per rule")
    if any(len(p) > MAX_PATTERN_CHARS for p in patterns):
        raise RuleError(f"each keyword, pattern or example must be at most {MAX_PATTERN_CHARS} characters")
    if rule.trigger_kind == "regex":
        if len(patterns) != 1:
            raise RuleError("a regex rule has exactly one pattern")
        compile_regex(patterns[0])
    if rule.trigger_kind == "keyword" and any(not words(p) for p in patterns):
        raise RuleError("each keyword must contain at least one letter or digit")
    response = rule.response.strip()
    if not response:
        raise RuleError("the response is empty")
    if len(response) > MAX_RESPONSE_CHARS:
        raise RuleError(f"the response must be at most {MAX_RESPONSE_CHARS} characters")
    if rule.threshold is not None and not 0.0 < rule.threshold <= 1.0:
        raise RuleError("threshold must be between 0 and 1")
    if rule.cooldown_s is not None and rule.cooldown_s < 0:
        raise RuleError("cooldown must be 0 or more seconds")
    return replace(rule, patterns=patterns, response=response)
