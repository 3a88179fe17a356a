"""The moderation gate every outgoing text passes, and every incoming text is flagged by.

It combines cheap rules (blocklist, regexes, secrets, system-prompt leaks, links outside the allowlist), PII
redaction and trained classifiers into one `ModerationDecision`: allow, redact (text changed) or block.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import re2

from bot.moderation.pii import redact_pii

log = logging.getLogger(__name__)

Action = Literal["allow", "redact", "block"]
Strictness = Literal["relaxed", "normal", "strict"]

# Token-shaped strings: Telegram bot tokens, Discord bot tokens, OpenAI-style keys, long hex/base64 secrets.
SECRET_PATTERNS = (
    re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}\b"),
    re.compile(r"\b[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}\b"),
    re.compile(r"\bsk-[A-Za-z0-9_-]{20,}\b"),
    re.compile(r"\b(?:ghp|gho|xox[abp])_?[A-Za-z0-9-]{20,}\b"),
)
LINK = re.compile(r"(?i)\b(?:https?://|www\.)([a-z0-9.-]+\.[a-z]{2,})(?:[/?#][^\s<>\"]*)?")
WORD = re.compile(r"\w+")
# Code-like words (mixing letters and digits, 8+ characters) in a protected text: keys, discount codes, ids.
CODE = re.compile(r"\b(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9][\w-]{7,}\b")
# A reply repeating this many consecutive words of the system prompt (or another protected text) leaks it.
LEAK_SHINGLE = 8
MENTION_ALL = re.compile(r"@(everyone|here)\b", re.IGNORECASE)


class TextScorer(Protocol):
    """A classifier returning the probability that a text belongs to its harmful class."""

    def score(self, text: str) -> float: ...


@dataclass(frozen=True)
class ModerationDecision:
    """What the gate decided about one text, with every reason and score, for storage and review."""

    action: Action
    text: str
    reasons: tuple[str, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        return self.action == "block"

    @property
    def flagged(self) -> bool:
        return self.action != "allow"


@dataclass(frozen=True)
class GatePolicy:
    """Tunable rules of the gate (from the `[moderation]` config section)."""

    blocklist: tuple[str, ...] = ()
    block_patterns: tuple[str, ...] = ()
    redact_pii: bool = True
    offensive_threshold: float = 0.8
    input_flag_threshold: float = 0.7
    harm_threshold: float = 0.5
    link_allowlist: tuple[str, ...] = ()
    fallback_reply: str = "Sorry, I can't help with that here."


STRICTNESS_FACTORS: dict[Strictness, float] = {"relaxed": 1.15, "normal": 1.0, "strict": 0.7}


class ModerationGate:
    """Decides allow/redact/block for outputs and flags inputs; pure CPU work, call it off the event loop."""

    def __init__(
        self,
        policy: GatePolicy,
        offensive: TextScorer | None = None,
        harm: TextScorer | None = None,
        extra_offensive: TextScorer | None = None,
        protected_texts: Sequence[str] = (),
    ) -> None:
        self.policy = policy
        self.offensive = offensive
        self.harm = harm
        self.extra_offensive = extra_offensive
        self._blocklist = (
            re2.compile(r"(?i)\b(?:" + "|".join(re.escape(word) for word in policy.blocklist) + r")\b")
            if policy.blocklist
            else None
        )
        self._patterns = [re2.compile(pattern) for pattern in policy.block_patterns]
        self._protected = [_normalise(text) for text in protected_texts if len(text) >= 40]
        self._protected_shingles: set[str] = set().union(*(shingles(text) for text in self._protected))
        self._protected_codes: set[str] = {code for text in protected_texts for code in CODE.findall(text)}

    def protect(self, text: str) -> None:
        """Register a text (system prompt, config) whose verbatim leak blocks a reply."""
        if len(text) >= 40:
            self._protected.append(_normalise(text))
            self._protected_shingles |= shingles(text)
        self._protected_codes |= set(CODE.findall(text))

    def _threshold(self, base: float, strictness: Strictness) -> float:
        return min(0.99, base * STRICTNESS_FACTORS[strictness])

    def _rule_reasons(self, text: str) -> list[str]:
        reasons = []
        if self._blocklist is not None and self._blocklist.search(text):
            reasons.append("blocklist")
        for index, pattern in enumerate(self._patterns):
            if pattern.search(text):
                reasons.append(f"pattern:{index}")
        return reasons

    def check_output(
        self, text: str, strictness: Strictness = "normal", link_allowlist: Sequence[str] | None = None
    ) -> ModerationDecision:
        """Gate a reply before it is sent: block it, redact PII from it, or let it through."""
        reasons = self._rule_reasons(text)
        scores: dict[str, float] = {}
        if any(pattern.search(text) for pattern in SECRET_PATTERNS):
            reasons.append("secret")
        if self._leaks_protected(text):
            reasons.append("prompt_leak")
        if self.offensive is not None:
            scores["offensive"] = round(self.offensive.score(text), 4)
            if scores["offensive"] >= self._threshold(self.policy.offensive_threshold, strictness):
                reasons.append("offensive")
        if self.extra_offensive is not None:
            scores["hf_offensive"] = round(self.extra_offensive.score(text), 4)
            if scores["hf_offensive"] >= self._threshold(self.policy.offensive_threshold, strictness):
                reasons.append("hf_offensive")
        if self.harm is not None:
            scores["harm"] = round(self.harm.score(text), 4)
            if scores["harm"] >= self._threshold(self.policy.harm_threshold, strictness):
                reasons.append("harmful")
        if reasons:
            return ModerationDecision("block", self.policy.fallback_reply, tuple(reasons), scores)
        redactions: list[str] = []
        allowed = tuple(link_allowlist if link_allowlist is not None else self.policy.link_allowlist)

        def replace_link(match: re.Match[str]) -> str:
            if domain_allowed(match.group(1), allowed):
                return match.group(0)
            redactions.append("link_not_allowed")
            return "[link removed]"

        text = LINK.sub(replace_link, text)
        if MENTION_ALL.search(text):
            redactions.append("mass_mention")
            text = MENTION_ALL.sub(lambda match: match.group(1), text)
        if self.policy.redact_pii:
            text, matches = redact_pii(text)
            redactions.extend(f"pii:{match.kind}" for match in matches)
        if redactions:
            return ModerationDecision("redact", text, tuple(sorted(set(redactions))), scores)
        return ModerationDecision("allow", text, (), scores)

    def check_input(self, text: str, strictness: Strictness = "normal") -> ModerationDecision:
        """Flag an incoming message (the text itself is kept as the user wrote it)."""
        reasons = self._rule_reasons(text)
        scores: dict[str, float] = {}
        if self.offensive is not None and text.strip():
            scores["offensive"] = round(self.offensive.score(text), 4)
            if scores["offensive"] >= self._threshold(self.policy.input_flag_threshold, strictness):
                reasons.append("offensive")
        if self.extra_offensive is not None and text.strip():
            scores["hf_offensive"] = round(self.extra_offensive.score(text), 4)
            if scores["hf_offensive"] >= self._threshold(self.policy.input_flag_threshold, strictness):
                reasons.append("hf_offensive")
        return ModerationDecision("block" if reasons else "allow", text, tuple(reasons), scores)

    def _leaks_protected(self, text: str) -> bool:
        """True when the text repeats a run of LEAK_SHINGLE words, or any code/key, of a protected text."""
        if self._protected_codes and any(code.lower() in text.lower() for code in self._protected_codes):
            return True
        return bool(shingles(text) & self._protected_shingles)


def _normalise(text: str) -> str:
    return " ".join(WORD.findall(text.lower()))


def shingles(text: str) -> set[str]:
    words = WORD.findall(text.lower())
    return {" ".join(words[index : index + LEAK_SHINGLE]) for index in range(len(words) - LEAK_SHINGLE + 1)}


def domain_allowed(domain: str, allowlist: Sequence[str]) -> bool:
    domain = domain.lower().rstrip(".")
    return any(domain == allowed or domain.endswith("." + allowed) for allowed in allowlist)


class ProfanityCheckScorer:
    """The linear profanity classifier shipped by `alt-profanity-check`, as a fallback scorer."""

    def __init__(self) -> None:
        from profanity_check import predict_prob

        self._predict_prob = predict_prob

    def score(self, text: str) -> float:
        return float(self._predict_prob([text])[0])
