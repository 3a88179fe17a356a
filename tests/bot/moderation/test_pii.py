"""PII detection: cards must pass Luhn, IBANs their checksum; ordinary numbers stay."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.moderation.pii import find_pii, luhn_valid, redact_pii


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")


def test_card_failing_luhn_is_not_redacted() -> None:
    assert redact_pii("ref 4111 1111 1111 1112")[1] == []


def test_valid_iban_is_redacted() -> None:
    assert redact_pii("IBAN DE89 3704 0044 0532 0130 00 thanks")[0] == "IBAN [iban removed] thanks"


def test_dates_order_numbers_and_versions_are_not_phone_numbers() -> None:
    for text in ("order 12345 shipped 2024-05-01", "version 1.2.3", "open 9-17", "20 items for 15 euros"):
        assert find_pii(text) == [], text


@given(st.text(max_size=300))
def test_redaction_never_crashes_and_leaves_no_email(text: str) -> None:
    redacted, _ = redact_pii(text + " someone@example.org")
    assert "someone@example.org" not in redacted
