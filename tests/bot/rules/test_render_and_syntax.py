"""Fixed replies render placeholders safely; the compact `/rules add` syntax parses as documented."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.rules.model import RuleError
from bot.rules.render import render_template
from bot.rules.syntax import parse_duration, parse_rule_spec


def test_placeholders_are_filled_and_unknown_ones_kept() -> None:
    values = {"user": "Alice", "chat": "c1", "1": "42", "id": "42"}
    assert render_template("Hi {user}, order {id} ({1}) in {chat}. {missing}", values) == (
        "Hi Alice, order 42 (42) in c1. {missing}"
    )
    assert render_template("{{user}} is literal", values) == "{user} is literal"


@pytest.mark.parametrize("template", ["{user.__class__}", "{user!r}", "{user:>99999}", "{0.__globals__}", "{user[0]}"])
def test_templates_cannot_reach_attributes_or_format_specs(template: str) -> None:
    assert render_template(template, {"user": "Alice", "0": "x"}) == template


@given(st.text(max_size=200), st.dictionaries(st.sampled_from(["user", "chat", "1", "id"]), st.text(max_size=300)))
def test_rendering_any_template_with_any_values_never_fails(template: str, values: dict[str, str]) -> None:
    assert isinstance(render_template(template, values), str)


def test_rule_syntax_examples_from_the_docs() -> None:
    keyword = parse_rule_spec('keyword "opening hours" -> We\'re open 9-17 Mon-Fri.')
    assert (keyword.trigger_kind, keyword.patterns, keyword.response) == (
        "keyword",
        ("opening hours",),
        "We're open 9-17 Mon-Fri.",
    )
    regex = parse_rule_spec(r"regex ^order\s+(?P<id>\d+) -> Order {id}: check your email.")
    assert regex.patterns == (r"^order\s+(?P<id>\d+)",)
    similar = parse_rule_spec('similar "how do I reset my password" -> Go to Settings > Account > Reset.')
    assert similar.patterns == ("how do I reset my password",)
    assert similar.response == "Go to Settings > Account > Reset."
    options = parse_rule_spec("similar priority=5 cooldown=2m I can't log in -> prompt:rule_answer")
    assert options.options == {"priority": "5", "cooldown": "2m"}
    assert (options.patterns, options.response_kind, options.response) == (("I can't log in",), "prompt", "rule_answer")


def test_edit_syntax_may_change_only_options_or_only_the_reply() -> None:
    assert parse_rule_spec("priority=3", require_trigger=False).options == {"priority": "3"}
    assert parse_rule_spec("-> New text", require_trigger=False).response == "New text"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("hours -> x", "trigger kind"),
        ("keyword hours", "reply after"),
        ('keyword "open -> x', "quote"),
        ("keyword -> x", "give the keyword"),
    ],
)
def test_malformed_rule_commands_say_what_is_wrong(text: str, reason: str) -> None:
    with pytest.raises(RuleError, match=reason):
        parse_rule_spec(text)


def test_durations() -> None:
    assert [parse_duration(v) for v in ("90", "90s", "2m", "1h")] == [90, 90, 120, 3600]
    with pytest.raises(RuleError):
        parse_duration("soon")


@given(st.text(max_size=300))
def test_any_command_text_parses_or_raises_rule_error(text: str) -> None:
    with contextlib.suppress(RuleError):
        parse_rule_spec(text)
