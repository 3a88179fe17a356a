"""Which passage answers: the one holding the question's rare words, or found by a question its owner wrote for it;
with the real encoder, the shipped judge and the shipped decline model, on made-up documents of our own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.kb.answering import KbAnswerer
from tests.bot.kb.conftest import shipped_answerer

DOCUMENTS = {
    "hours.md": "# Opening hours\n\n## Weekdays\n\nThe bakery is open Tuesday to Friday from 7:00 to 18:00. On "
    "Mondays the bakery is closed.\n\n## Weekends\n\nOn Saturdays we are open from 8:00 to 16:00, and on Sundays "
    "from 9:00 to 13:00.\n",
    "cards.md": "# Card kept by a cash machine\n\nQuestions: The cash machine ate my card | My card got stuck in the "
    "ATM\n\nFreeze the card in the app at once and order a replacement under Card > Replace card.\n",
}


@pytest.fixture(scope="module")
def answerer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KbAnswerer]:
    with shipped_answerer(tmp_path_factory.mktemp("answer-choice"), DOCUMENTS) as built:
        yield built


async def test_a_question_about_mondays_is_answered_from_the_section_that_names_mondays(
    answerer: KbAnswerer,
) -> None:
    answer = await answerer.answer("Are you open on Mondays?", use_model=False)
    assert answer.outcome == "answered", answer.details()
    assert "Mondays the bakery is closed" in answer.text
    saturday = await answerer.answer("What time do you open on Saturday?", use_model=False)
    assert "On Saturdays we are open from 8:00 to 16:00" in saturday.text


async def test_a_question_worded_like_the_owners_is_answered_from_its_passage(answerer: KbAnswerer) -> None:
    answer = await answerer.answer("the atm swallowed my card, what now?", use_model=False)
    assert answer.outcome == "answered", answer.details()
    assert Path(answer.cited[0].source).name == "cards.md"
    assert "Questions" not in answer.text
