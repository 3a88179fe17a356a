"""The in-memory rule index: which enabled rules a message triggers, at a cost independent of history.

Built once from all enabled rules and rebuilt when they change: keywords go into a dict from first word to
phrases, regexes into one re2 set (a single linear-time pass tells which patterns match, then only those
are run again for their groups), and example phrasings of semantic rules into one matrix of unit vectors.
A message is embedded at most once per turn, and only when a semantic rule covers its chat.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import re2
from numpy.typing import NDArray

from bot.rules.model import Rule, compile_regex, regex_options, words

log = logging.getLogger(__name__)

# Memory for the one automaton of all regex rules; 1,000 typical patterns need a few MiB.
SET_MAX_MEM = 128 << 20

Encoder = Callable[[Sequence[str]], NDArray[np.float32]]


@dataclass(frozen=True)
class RuleMatch:
    """A rule the message triggered, with regex captures (`"1"`, `"id"`) and the similarity if semantic."""

    rule: Rule
    groups: dict[str, str] = field(default_factory=dict)
    score: float | None = None


class RuleIndex:
    """Enabled rules compiled for fast matching; immutable once built (rebuild to change it)."""

    def __init__(
        self,
        rules: Iterable[Rule],
        encode: Encoder | None = None,
        default_threshold: float = 0.75,
        vector_cache: dict[str, NDArray[np.float32]] | None = None,
    ) -> None:
        self.rules: dict[int, Rule] = {rule.id: rule for rule in rules if rule.enabled}
        self.default_threshold = default_threshold
        # first word -> (phrase words, rule id, phrase number within the rule)
        self._phrases: dict[str, list[tuple[tuple[str, ...], int, int]]] = defaultdict(list)
        self._regexes: dict[int, Any] = {}
        self._regex_set: Any = None
        self._regex_set_ids: list[int] = []
        self._semantic_ids: list[int] = []
        self._example_matrix: NDArray[np.float32] = np.zeros((0, 0), dtype=np.float32)
        self._example_rule_rows: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._example_thresholds: NDArray[np.float32] = np.zeros(0, dtype=np.float32)
        self._build_keywords()
        self._build_regexes()
        self._build_semantic(encode, vector_cache if vector_cache is not None else {})

    def __len__(self) -> int:
        return len(self.rules)

    # building -----------------------------------------------------------------------------------------

    def _build_keywords(self) -> None:
        for rule in self.rules.values():
            if rule.trigger_kind != "keyword":
                continue
            for number, phrase in enumerate(rule.patterns):
                tokens = words(phrase)
                if tokens:
                    self._phrases[tokens[0]].append((tokens, rule.id, number))

    def _build_regexes(self) -> None:
        regex_rules = [rule for rule in self.rules.values() if rule.trigger_kind == "regex"]
        for rule in regex_rules:
            try:
                self._regexes[rule.id] = compile_regex(rule.patterns[0])
            except Exception:
                log.warning("rule #%d: regex no longer compiles, skipped", rule.id)
        if not self._regexes:
            return
        options = regex_options()
        options.max_mem = SET_MAX_MEM
        regex_set = re2.Set.SearchSet(options)
        ids = []
        try:
            for rule_id, compiled in self._regexes.items():
                regex_set.Add(compiled.pattern)
                ids.append(rule_id)
            regex_set.Compile()
        except Exception:
            log.warning("regex rules could not share one re2 set; matching them one by one")
            return
        self._regex_set, self._regex_set_ids = regex_set, ids

    def _build_semantic(self, encode: Encoder | None, cache: dict[str, NDArray[np.float32]]) -> None:
        semantic = [rule for rule in self.rules.values() if rule.trigger_kind == "similar"]
        if not semantic:
            return
        if encode is None:
            log.warning("%d semantic rules skipped: no sentence encoder", len(semantic))
            return
        missing = sorted({p for rule in semantic for p in rule.patterns if p not in cache})
        if missing:
            for text, vector in zip(missing, encode(missing), strict=True):
                cache[text] = vector
        vectors, rows, thresholds = [], [], []
        for rule in semantic:
            for phrase in rule.patterns:
                vectors.append(cache[phrase])
                rows.append(rule.id)
                thresholds.append(rule.threshold if rule.threshold is not None else self.default_threshold)
        self._semantic_ids = [rule.id for rule in semantic]
        self._example_matrix = np.vstack(vectors).astype(np.float32)
        self._example_rule_rows = np.asarray(rows, dtype=np.int64)
        self._example_thresholds = np.asarray(thresholds, dtype=np.float32)

    # matching -----------------------------------------------------------------------------------------

    def needs_embedding(self, platform: str, chat_id: str) -> bool:
        """Whether a semantic rule covers this chat (only then is the message worth embedding)."""
        return len(self._example_rule_rows) > 0 and any(
            self.rules[rule_id].applies_to(platform, chat_id) for rule_id in self._semantic_ids
        )

    def match(
        self, text: str, platform: str, chat_id: str, vector: NDArray[np.float32] | None = None
    ) -> list[RuleMatch]:
        """The rules `text` triggers in this chat, best first (highest priority, then oldest rule)."""
        found: dict[int, RuleMatch] = {}
        for rule_id in self._keyword_hits(text):
            found[rule_id] = RuleMatch(self.rules[rule_id])
        for rule_id, groups in self._regex_hits(text):
            found.setdefault(rule_id, RuleMatch(self.rules[rule_id], groups))
        if vector is not None:
            for rule_id, score in self._semantic_hits(vector):
                found.setdefault(rule_id, RuleMatch(self.rules[rule_id], score=score))
        in_scope = [match for match in found.values() if match.rule.applies_to(platform, chat_id)]
        return sorted(in_scope, key=lambda match: (-match.rule.priority, match.rule.id))

    def _keyword_hits(self, text: str) -> list[int]:
        if not self._phrases:
            return []
        tokens = words(text)
        matched: dict[int, set[int]] = defaultdict(set)
        for position, token in enumerate(tokens):
            for phrase, rule_id, number in self._phrases.get(token, ()):
                if tokens[position : position + len(phrase)] == phrase:
                    matched[rule_id].add(number)
        hits = []
        for rule_id, numbers in matched.items():
            rule = self.rules[rule_id]
            if rule.match_mode == "any" or len(numbers) == len(rule.patterns):
                hits.append(rule_id)
        return hits

    def _regex_hits(self, text: str) -> list[tuple[int, dict[str, str]]]:
        if not self._regexes:
            return []
        if self._regex_set is not None:
            candidates = [self._regex_set_ids[i] for i in (self._regex_set.Match(text) or ())]
        else:
            candidates = list(self._regexes)
        hits = []
        for rule_id in candidates:
            found = self._regexes[rule_id].search(text)
            if found is not None:
                groups = {str(i): value for i, value in enumerate(found.groups(), start=1) if value is not None}
                groups.update({name: value for name, value in found.groupdict().items() if value is not None})
                groups["0"] = found.group(0)
                hits.append((rule_id, groups))
        return hits

    def _semantic_hits(self, vector: NDArray[np.float32]) -> list[tuple[int, float]]:
        if len(self._example_rule_rows) == 0:
            return []
        scores = self._example_matrix @ vector.astype(np.float32)
        best: dict[int, float] = {}
        for row in np.nonzero(scores >= self._example_thresholds)[0]:
            rule_id, score = int(self._example_rule_rows[row]), float(scores[row])
            if score > best.get(rule_id, -1.0):
                best[rule_id] = score
        return list(best.items())
