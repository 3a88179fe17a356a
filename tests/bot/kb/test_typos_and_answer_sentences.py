"""A customer's typo still finds the passage, and a short section is quoted by the sentence that answers; with
the real encoder, the shipped judge and the shipped decline model, on a made-up tea room menu of our own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.kb.answering import KbAnswerer
from tests.bot.kb.conftest import shipped_answerer

DOCUMENTS = {
    "menu.md": "# Menu\n\n## Drinks\n\nA pot of darjeeling costs 3.40 euros and a macchiato costs 2.90 euros. "
    "Almond and rice milk are available at no extra charge.\n\n## Pastries\n\nA cinnamon bun costs 2.60 euros. "
    "Whole trays can be ordered a day in advance.\n\n## Gluten-free\n\nWe bake a gluten-free loaf every Tuesday. "
    "It is baked in the same oven as wheat bread, so traces of gluten are possible.\n",
    "hours.md": "# Opening hours\n\nWe are open Monday to Saturday from 8:00 to 18:00 and closed on Sundays.\n",
}


@pytest.fixture(scope="module")
def answerer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KbAnswerer]:
    with shipped_answerer(tmp_path_factory.mktemp("typos"), DOCUMENTS) as built:
        yield built


@pytest.mark.parametrize("question", ["how much is a machiato?", "How much is a pot of darjeling?"])
async def test_a_misspelt_menu_item_is_answered_with_its_price(answerer: KbAnswerer, question: str) -> None:
    answer = await answerer.answer(question, use_model=False)
    assert answer.outcome == "answered", answer.details()
    assert "macchiato costs 2.90 euros" in answer.text


async def test_a_misspelt_thing_the_menu_does_not_have_is_still_declined(answerer: KbAnswerer) -> None:
    answer = await answerer.answer("do you have crossaints?", use_model=False)
    assert answer.outcome == "declined", answer.details()


async def test_a_question_about_one_sentence_of_a_short_section_gets_that_sentence(answerer: KbAnswerer) -> None:
    answer = await answerer.answer("Do you have rice milk?", use_model=False)
    assert answer.outcome == "answered", answer.details()
    assert "Almond and rice milk are available at no extra charge." in answer.text
    assert "macchiato" not in answer.text


async def test_a_short_section_whose_sentences_all_answer_is_quoted_whole(answerer: KbAnswerer) -> None:
    answer = await answerer.answer("Is your gluten-free bread safe from traces of gluten?", use_model=False)
    assert answer.outcome == "answered", answer.details()
    assert "We bake a gluten-free loaf every Tuesday." in answer.text
    assert "traces of gluten are possible" in answer.text
