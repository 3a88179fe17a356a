"""Near misses: a question next to a document that does not answer it is declined, with the real encoder, the
shipped judge and the shipped decline model. The documents are a made-up card issuer (not in any training set)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.kb.answering import KbAnswerer
from tests.bot.kb.conftest import shipped_answerer

DOCUMENTS = {
    "limit.md": "# Your credit limit\n\nYour credit limit is shown in the app under Card details, next to your "
    "balance. It is set when your card is approved.\n",
    "lost.md": "# Lost or stolen cards\n\nIf your card is lost or stolen, freeze it at once in the app under Card "
    "details > Freeze, then call 0800 555 0100 so that we can send a new one.\n",
    "fees.md": "# Fees abroad\n\nCard payments abroad cost 1% of the amount; cash withdrawals abroad cost 2 pounds "
    "each.\n",
}


@pytest.fixture(scope="module")
def answerer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KbAnswerer]:
    with shipped_answerer(tmp_path_factory.mktemp("near-miss"), DOCUMENTS) as built:
        yield built


@pytest.mark.parametrize(
    ("question", "document"),
    [
        ("What is my credit limit?", "limit.md"),
        ("my card was stolen, what should I do?", "lost.md"),
        ("how much do you charge for paying with my card abroad?", "fees.md"),
    ],
)
async def test_a_question_the_document_answers_is_answered_from_it(
    answerer: KbAnswerer, question: str, document: str
) -> None:
    answer = await answerer.answer(question, use_model=False)
    assert answer.outcome == "answered", answer.details()
    assert Path(answer.cited[0].source).name == document


@pytest.mark.parametrize(
    "question",
    [
        "How can I increase my credit limit?",
        "Can you cancel my card payment from yesterday?",
        "how do I change the PIN of my card",
    ],
)
async def test_a_question_asking_for_what_no_document_covers_is_declined(answerer: KbAnswerer, question: str) -> None:
    answer = await answerer.answer(question, use_model=False)
    assert answer.outcome == "declined", answer.details()
