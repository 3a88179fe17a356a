"""Misspelt question words are mapped onto the knowledge base's own words, and nothing else is touched."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.kb.spelling import SpellingCorrector, edit_distance, encoder_words, vocabulary_of

MENU = vocabulary_of(
    [
        "An espresso costs 2.20 euros and a cappuccino costs 3.10 euros.",
        "Oat and soy milk are available at no extra cost. A slice of carrot cake costs 3.80 euros.",
    ],
    stopwords={"an", "and", "a", "at", "no", "of", "are"},
)


def corrector() -> SpellingCorrector:
    return SpellingCorrector(MENU, encoder_words().__contains__)


def test_a_misspelt_menu_word_is_replaced_by_the_menu_word() -> None:
    assert corrector().correct("how much is a cappucino?") == "how much is a cappuccino?"
    assert corrector().correct("an expresso please") == "an espresso please"
    assert corrector().correct("Is soy milk avaliable?") == "Is soy milk available?"


def test_a_capitalised_typo_keeps_its_capital() -> None:
    assert corrector().correct("Cappucino, how much?") == "Cappuccino, how much?"


def test_a_word_the_knowledge_base_lacks_is_never_invented() -> None:
    assert corrector().correct("do you have crossaints?") == "do you have crossaints?"


def test_a_common_word_is_not_a_typo_even_when_close_to_a_menu_word() -> None:
    vocabulary = {"baking": 3, "carrot": 1}
    common = SpellingCorrector(vocabulary, encoder_words().__contains__)
    assert common.correct("is there parking nearby?") == "is there parking nearby?"
    assert common.correct("carrots") == "carrots"  # a form of a known word, not a typo


def test_short_words_are_left_as_typed() -> None:
    assert SpellingCorrector({"cake": 1}).correct("a cakr") == "a cakr"


def test_the_closest_word_wins_and_ties_go_to_the_more_frequent_word() -> None:
    picked = SpellingCorrector({"booking": 5, "bookings": 1, "cooking": 9})
    assert picked.correction("boking") == "booking"
    assert SpellingCorrector({"parcel": 1, "parcels": 4}).correction("parcelx") == "parcels"


def test_edit_distance_counts_an_adjacent_swap_as_one_edit() -> None:
    assert edit_distance("recieve", "receive") == 1
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3


@given(st.text(max_size=80))
def test_correcting_twice_changes_nothing_more(text: str) -> None:
    once = corrector().correct(text)
    assert corrector().correct(once) == once


@given(st.text(max_size=80))
def test_only_unknown_words_are_replaced_and_only_by_knowledge_base_words(text: str) -> None:
    spelling = corrector()
    for typed, corrected in spelling.corrections(text).items():
        assert not spelling.knows(typed.lower())
        assert corrected in MENU
