"""Timestamps are not phone numbers: cutting them changed tweets the classifiers judged."""

from __future__ import annotations

from bot.moderation.pii import find_pii, remove_pii


def test_a_date_and_time_is_not_taken_for_a_phone_number() -> None:
    text = "@USER 2018-09-14 23:56  Congratulations! You are on no blocklists"
    assert find_pii(text) == []
    assert remove_pii(text) == text


def test_a_phone_number_next_to_words_is_still_found() -> None:
    assert [match.kind for match in find_pii("call or inbox me 07405077156 WhatsApp")] == ["phone"]
