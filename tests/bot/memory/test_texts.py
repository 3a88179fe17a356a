"""The memory feature's texts (bot/memory/texts.toml) exist in every fixed-text language, key for key with English
and with the same placeholders, read as their own language, and a language without them gets English."""

from __future__ import annotations

import string

import pytest

from bot.i18n import FIXED_TEXT_LANGUAGES
from bot.language import detect_language
from bot.memory import texts
from bot.memory.extraction import KINDS
from bot.memory.feature import reply_language

ENGLISH = texts._catalogue()["en"]
VALUES = {"value": "Lena", "date": "2026-12-01", "n": 3, "text": "Lena", "label": ""}


def placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def test_english_has_a_sentence_and_a_label_for_every_kind_of_fact_and_the_follow_up_answers() -> None:
    needed = {*KINDS, *(f"label_{kind}" for kind in KINDS), "unknown", "last_said", "last_said_none", "ack", "ack_name"}
    assert needed <= set(ENGLISH)


@pytest.mark.parametrize("language", FIXED_TEXT_LANGUAGES)
def test_every_fixed_text_language_has_every_memory_text_with_the_same_placeholders(language: str) -> None:
    catalogue = texts._catalogue().get(language, {})
    assert sorted(set(ENGLISH) - set(catalogue)) == []
    assert sorted(set(catalogue) - set(ENGLISH)) == []
    for key, template in catalogue.items():
        assert placeholders(template) == placeholders(ENGLISH[key]), f"{language}.{key}"


@pytest.mark.parametrize("language", FIXED_TEXT_LANGUAGES)
def test_the_memory_sentences_read_as_their_own_language(language: str) -> None:
    sentences = [
        texts.text(key, language, **{**VALUES, "label": texts.text("label_name", language)})
        for key in ENGLISH
        if not key.startswith("label_") and key not in ("list_line", "usage")  # a format, and mostly command names
    ]
    detected = [detect_language(sentence).code for sentence in sentences]
    assert detected.count(language) / len(detected) >= 0.9, list(zip(sentences, detected, strict=True))


@pytest.mark.parametrize(
    ("question", "language", "kind", "answer_start"),
    [
        ("Как меня зовут? Вы помните, что я вам говорил?", "ru", "name", "Вы ещё не сказали мне, как вас зовут"),
        ("Wat is mijn bestelnummer? Weet je dat nog?", "nl", "order_number", "Je hebt me nog niet verteld wat je"),
        ("Sipariş numaram neydi, hatırlıyor musunuz?", "tr", "order_number", "Bana henüz sipariş numaranızı"),
    ],
)
def test_a_question_in_a_new_language_gets_its_memory_answer_in_that_language(
    question: str, language: str, kind: str, answer_start: str
) -> None:
    chosen = reply_language(question, "en")
    assert chosen == language
    assert texts.text("unknown", chosen, label=texts.text(f"label_{kind}", chosen)).startswith(answer_start)


def test_a_language_without_memory_texts_gets_english() -> None:
    assert "sw" not in texts.languages()
    assert texts.text("forgot_one", "sw", n=2) == "Done: I forgot item 2."
    assert texts.text("ack", "pl") == "Dzięki, zapamiętam to."
