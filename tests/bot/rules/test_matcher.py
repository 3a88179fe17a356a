"""The rule index: keywords (whole word, any/all), regexes on re2 with captures, priority and scope."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from bot.benchmarks.rules import synthetic_messages, synthetic_rules
from bot.rules.matcher import RuleIndex
from bot.rules.model import Rule, RuleError, compile_regex, validate


def index_of(*rules: Rule) -> RuleIndex:
    return RuleIndex([replace(rule, id=number) for number, rule in enumerate(rules, start=1)])


def matched_ids(index: RuleIndex, text: str, platform: str = "telegram", chat: str = "c1") -> list[int]:
    return [match.rule.id for match in index.match(text, platform, chat)]


def test_keyword_matches_whole_words_case_insensitively() -> None:
    index = index_of(Rule("keyword", ("opening hours",), "9-17"), Rule("keyword", ("cat",), "meow"))
    assert matched_ids(index, "What are your OPENING Hours?") == [1]
    assert matched_ids(index, "the opening of the hours") == []
    assert matched_ids(index, "concatenate category") == []
    assert matched_ids(index, "my Cat!") == [2]


def test_keyword_any_needs_one_phrase_and_all_needs_every_phrase() -> None:
    index = index_of(
        Rule("keyword", ("refund", "money back"), "any"),
        Rule("keyword", ("refund", "shipping"), "all", match_mode="all"),
    )
    assert matched_ids(index, "I want my money back") == [1]
    assert matched_ids(index, "refund please") == [1]
    assert matched_ids(index, "refund the shipping costs") == [1, 2]


def test_regex_captures_numbered_and_named_groups() -> None:
    index = index_of(Rule("regex", (r"^order\s+(?P<id>\d+)\s+(\w+)",), "Order {id}"))
    [match] = index.match("Order 1234 delayed", "telegram", "c1")
    assert match.groups["id"] == "1234" and match.groups["1"] == "1234" and match.groups["2"] == "delayed"
    assert matched_ids(index, "my order 1234") == []


def test_higher_priority_wins_then_the_older_rule() -> None:
    index = index_of(
        Rule("keyword", ("price",), "old"),
        Rule("keyword", ("price",), "urgent", priority=5),
        Rule("keyword", ("price",), "newer"),
    )
    assert matched_ids(index, "price?") == [2, 1, 3]


def test_scope_limits_a_rule_to_its_platform_and_chats() -> None:
    index = index_of(
        Rule("keyword", ("hi",), "everywhere"),
        Rule("keyword", ("hi",), "discord only", platform="discord"),
        Rule("keyword", ("hi",), "one chat", platform="telegram", chats=("c2",)),
    )
    assert matched_ids(index, "hi", "telegram", "c1") == [1]
    assert matched_ids(index, "hi", "discord", "c1") == [1, 2]
    assert matched_ids(index, "hi", "telegram", "c2") == [1, 3]


def test_disabled_rules_never_match() -> None:
    assert matched_ids(index_of(Rule("keyword", ("hi",), "x", enabled=False)), "hi") == []


def test_catastrophic_backtracking_pattern_is_linear_on_re2() -> None:
    index = index_of(Rule("regex", ("(a+)+$",), "never"), Rule("regex", ("(x+x+)+y",), "never"))
    hostile = "a" * 50_000 + "!"
    started = time.perf_counter()
    assert matched_ids(index, hostile) == []
    assert matched_ids(index, "x" * 50_000) == []
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("pattern", [r"(a)\1", r"foo(?=bar)", r"(?<!x)y", "(unclosed"])
def test_patterns_re2_cannot_compile_are_refused_with_a_clear_message(pattern: str) -> None:
    with pytest.raises(RuleError, match="can't be used"):
        compile_regex(pattern)
    with pytest.raises(RuleError):
        validate(Rule("regex", (pattern,), "x"))


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        (Rule("keyword", (), "x"), "empty"),
        (Rule("keyword", ("!!!",), "x"), "letter or digit"),
        (Rule("keyword", ("hi",), "  "), "response is empty"),
        (Rule("regex", ("a" * 600,), "x"), "at most"),
        (Rule("similar", ("hi",), "x", threshold=1.5), "threshold"),
    ],
)
def test_invalid_rules_are_refused_with_the_reason(rule: Rule, reason: str) -> None:
    with pytest.raises(RuleError, match=reason):
        validate(rule)


def test_one_regex_set_gives_the_same_hits_as_each_regex_alone() -> None:
    rules = [replace(rule, id=number) for number, rule in enumerate(synthetic_rules(1000, False), start=1)]
    index = RuleIndex(rules)
    assert index._regex_set is not None
    texts = synthetic_messages(300) + [f"refund ab{n}7 now" for n in range(0, 1000, 7)]
    for text in texts:
        alone = {rule_id for rule_id, compiled in index._regexes.items() if compiled.search(text)}
        assert {rule_id for rule_id, _ in index._regex_hits(text)} == alone


def test_semantic_rules_match_on_the_example_matrix_with_per_rule_thresholds() -> None:
    vectors = {"a": np.array([1.0, 0.0], dtype=np.float32), "b": np.array([0.0, 1.0], dtype=np.float32)}
    index = RuleIndex(
        [
            Rule("similar", ("a",), "A", threshold=0.9, id=1),
            Rule("similar", ("b",), "B", threshold=0.5, id=2),
        ],
        encode=lambda texts: np.vstack([vectors[text] for text in texts]),
    )
    assert index.needs_embedding("telegram", "c1")
    query = np.array([0.6, 0.8], dtype=np.float32)
    matches = index.match("anything", "telegram", "c1", query)
    assert [(m.rule.id, round(m.score or 0, 2)) for m in matches] == [(2, 0.8)]
    assert not index_of(Rule("keyword", ("x",), "y")).needs_embedding("telegram", "c1")


def test_bench_reports_median_and_p99_for_each_rule_count() -> None:
    from bot.benchmarks.rules import run_bench

    results = run_bench(sizes=(10, 100), messages=20)
    assert [result.rules for result in results] == [10, 100]
    assert all(0 <= result.median_ms <= result.p99_ms < 50 for result in results)
