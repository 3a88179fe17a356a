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


SHOP = {
    "orders.md": "# Cancelling an order\n\nYou can cancel an order until it ships: open Orders in your account, choose "
    "the order and tap Cancel order, or write to us with the order number. The money goes back to your card within "
    "5 working days.\n",
    "fees.md": "# Cancellation fee\n\nIf you cancel a purchase after it has been dispatched, a cancellation fee of 5% "
    "of the purchase price applies. Purchases cancelled before dispatch are free of charge.\n",
    "hours.md": "# Opening hours\n\nWe are open Monday to Friday from 9:00 to 18:00 and on Saturdays from 10:00 to "
    "16:00. We are closed on Sundays.\n\n## Bank holidays\n\nEaster Monday: open 9:00 to 14:00. Christmas Day and "
    "New Year's Day: closed.\n",
}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KbAnswerer]:
    with shipped_answerer(tmp_path_factory.mktemp("answer-choice-shop"), SHOP) as built:
        yield built


@pytest.mark.xfail(
    strict=True,
    reason="known failure (issue 16): the judge rates the fee sentence above the order page, and the shipped decline "
    "model answers it (confidence 0.52); the deployment-composition refit that declines it lost on tuning",
)
async def test_a_request_to_cancel_a_purchase_is_never_answered_with_the_cancellation_fee(shop: KbAnswerer) -> None:
    """Issue 16's failure, in our words: the fee page shares "cancel" and "purchase" with the request but does not
    say how to cancel. Answering from the order page or declining are both acceptable; the fee is not."""
    answer = await shop.answer("can you help me cancel purchase 00004587345?", use_model=False)
    assert all(Path(hit.source).name != "fees.md" for hit in answer.cited), answer.details()
    fee = await shop.answer("Is there a fee for cancelling a purchase?", use_model=False)
    assert fee.outcome == "answered" and Path(fee.cited[0].source).name == "fees.md", fee.details()


async def test_a_question_about_mondays_is_not_answered_with_the_easter_monday_line(shop: KbAnswerer) -> None:
    answer = await shop.answer("Are you open on Mondays?", use_model=False)
    assert answer.outcome == "answered", answer.details()
    assert "Monday to Friday from 9:00 to 18:00" in answer.text
    assert not answer.text.startswith("Easter Monday")
    easter = await shop.answer("Are you open on Easter Monday?", use_model=False)
    assert "Easter Monday: open 9:00 to 14:00" in easter.text
