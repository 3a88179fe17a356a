"""The shipped gate never blocks the benign regression set: greetings, thanks, names, numbers, shop phrases,
"evil" in a sentence about a film, "@USER @USER there she is", PII (redacted instead), other languages."""

from __future__ import annotations

import pytest

from bot.evaluation.moderation_report import regression_texts
from bot.moderation.factory import standard_gate

TEXTS = regression_texts()


def test_the_set_holds_the_cases_the_issue_names() -> None:
    for text in ("hi", "thanks", "@USER @USER there she is", "Mohammed", "42"):
        assert text in TEXTS
    assert any("evil" in text.lower() and "film" in text for text in TEXTS)
    assert any("4111 1111 1111 1111" in text for text in TEXTS) and any("IBAN" in text for text in TEXTS)


@pytest.mark.slow
def test_no_regression_text_is_blocked_as_a_reply() -> None:
    decisions = standard_gate().check_outputs(TEXTS)
    blocked = [(text, d.reasons) for text, d in zip(TEXTS, decisions, strict=True) if d.blocked]
    assert blocked == []


@pytest.mark.slow
def test_no_regression_text_is_flagged_as_a_user_message() -> None:
    decisions = standard_gate().check_inputs(TEXTS)
    flagged = [(text, d.reasons) for text, d in zip(TEXTS, decisions, strict=True) if d.blocked]
    assert flagged == []


@pytest.mark.slow
def test_card_numbers_and_ibans_are_redacted_not_blocked() -> None:
    card = next(text for text in TEXTS if "4111" in text)
    iban = next(text for text in TEXTS if "IBAN" in text)
    card_decision, iban_decision = standard_gate().check_outputs([card, iban])
    assert card_decision.action == "redact" and "[card removed]" in card_decision.text
    assert iban_decision.action == "redact" and "[iban removed]" in iban_decision.text
