"""Ingesting, updating, removing and retrieving passages: only what changed is embedded again."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from bot.kb import KbError
from bot.kb.knowledge_base import KnowledgeBase
from bot.kb.vectors import blob_to_vector
from bot.store import Store
from tests.bot.kb.conftest import HashingEncoder


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "kb.db")
    yield opened
    opened.close()


def test_adding_a_folder_ingests_every_supported_format(
    store: Store, fixtures_dir: Path, hashing_encoder: HashingEncoder
) -> None:
    kb = KnowledgeBase(store, hashing_encoder)
    results = kb.add_paths([fixtures_dir])
    assert sorted(Path(result.source).name for result in results) == [
        "faq.csv",
        "faq.json",
        "hours.html",
        "returns.md",
        "shipping.txt",
    ]
    assert {document.kind for document in kb.documents()} == {"faq", "html", "markdown", "text"}
    assert kb.passage_count() == sum(result.passages_added for result in results)
    fts_rows = store.db.execute("select count(*) from kb_passages_fts").fetchone()[0]
    assert fts_rows == kb.passage_count()


def test_re_adding_an_unchanged_file_embeds_nothing(
    store: Store, fixtures_dir: Path, hashing_encoder: HashingEncoder
) -> None:
    kb = KnowledgeBase(store, hashing_encoder)
    kb.add_file(fixtures_dir / "returns.md")
    embedded = len(hashing_encoder.embedded)
    result = kb.add_file(fixtures_dir / "returns.md")
    assert result.status == "unchanged"
    assert len(hashing_encoder.embedded) == embedded


def test_changing_one_section_re_embeds_only_that_passage(
    store: Store, tmp_path: Path, fixtures_dir: Path, hashing_encoder: HashingEncoder
) -> None:
    path = tmp_path / "returns.md"
    shutil.copy(fixtures_dir / "returns.md", path)
    kb = KnowledgeBase(store, hashing_encoder)
    kb.add_file(path)
    assert kb.search("sale items returned", 1)[0].text == "Sale items can be returned within 14 days."
    hashing_encoder.calls.clear()
    path.write_text(path.read_text().replace("within 14 days", "within 21 days"), encoding="utf-8")
    result = kb.add_file(path)
    assert (result.status, result.passages_added, result.passages_kept, result.passages_removed) == ("updated", 1, 1, 1)
    assert hashing_encoder.embedded == ["Returns > Sale items\nSale items can be returned within 21 days."]
    assert kb.search("sale items returned", 1)[0].text == "Sale items can be returned within 21 days."
    assert "14 days" not in " ".join(hit.text for hit in kb.search("sale items returned within 14 days", 5))


def test_removing_a_document_removes_it_from_search(
    store: Store, fixtures_dir: Path, hashing_encoder: HashingEncoder
) -> None:
    kb = KnowledgeBase(store, hashing_encoder)
    kb.add_paths([fixtures_dir])
    assert any(hit.title == "Shipping" for hit in kb.search("express delivery cost", 3))
    removed = kb.remove(str(fixtures_dir / "shipping.txt"))
    assert removed.title == "Shipping"
    assert all(hit.title != "Shipping" for hit in kb.search("express delivery cost", 10))
    with pytest.raises(KbError, match="no document"):
        kb.remove("shipping.txt")


def test_a_change_made_by_another_process_is_seen_on_the_next_search(
    store: Store, fixtures_dir: Path, hashing_encoder: HashingEncoder
) -> None:
    bot_side = KnowledgeBase(store, hashing_encoder)
    cli_side = KnowledgeBase(store, hashing_encoder)
    assert bot_side.search("gift wrapping", 1) == []
    cli_side.add_file(fixtures_dir / "faq.csv")
    assert bot_side.search("gift wrapping", 1)[0].question == "Do you offer gift wrapping?"


def test_retrieval_ranks_the_passage_that_answers_first(store: Store, fixtures_dir: Path) -> None:
    kb = KnowledgeBase(store)  # the real bundled encoder
    kb.add_paths([fixtures_dir])
    expectations = {
        "How long do I have to send something back?": "Returns > Standard returns",
        "how much is next-day delivery": "Shipping",
        "When are you open on Saturdays?": "Opening hours",
        "Can I bring my dog?": "Are dogs allowed in the shop?",
        "I forgot my password": "How do I reset my password?",
    }
    for question, heading in expectations.items():
        hits = kb.search(question, 3)
        assert hits[0].heading == heading, question
        assert hits[0].score >= hits[1].score >= hits[2].score
        assert 0.0 <= hits[0].score <= 1.0


ASKED = (
    "# Cards\n\n## Swallowed\n\nQuestions: the cash machine ate it | atm kept my plastic\n"
    "Freeze it in the app and order another one.\n\n## Fees\n\nOrdering another one costs nothing.\n"
)


def test_a_passage_is_found_by_the_question_its_owner_wrote_for_it(
    store: Store, tmp_path: Path, hashing_encoder: HashingEncoder
) -> None:
    path = tmp_path / "cards.md"
    path.write_text(ASKED, encoding="utf-8")
    kb = KnowledgeBase(store, hashing_encoder, lexical_weight=0.0)
    kb.add_file(path)
    hit = kb.search("the cash machine ate it", 1)[0]
    assert hit.heading == "Cards > Swallowed"
    assert hit.vector_score == pytest.approx(1.0, abs=1e-5)  # the question itself, not the passage text
    # A fresh instance loads the question vectors from the database.
    reloaded = KnowledgeBase(store, hashing_encoder, lexical_weight=0.0)
    assert reloaded.search("atm kept my plastic", 1)[0].heading == "Cards > Swallowed"


def test_changing_or_removing_a_document_drops_its_old_questions(
    store: Store, tmp_path: Path, hashing_encoder: HashingEncoder
) -> None:
    path = tmp_path / "cards.md"
    path.write_text(ASKED, encoding="utf-8")
    kb = KnowledgeBase(store, hashing_encoder, lexical_weight=0.0)
    kb.add_file(path)
    kb.search("warm up", 1)
    path.write_text(ASKED.replace("atm kept my plastic", "my card got stuck"), encoding="utf-8")
    kb.add_file(path)
    questions = [row["question"] for row in store.db.query("select question from kb_passage_questions")]
    assert sorted(questions) == ["my card got stuck", "the cash machine ate it"]
    assert kb.search("atm kept my plastic", 1)[0].vector_score < 0.9
    kb.remove(str(path.resolve()))
    assert store.db.execute("select count(*) from kb_passage_questions").fetchone()[0] == 0
    assert kb.search("the cash machine ate it", 1) == []


class _SaltedEncoder(HashingEncoder):
    """A hashing encoder with a model name; another salt makes other vectors, as another model would."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> NDArray[np.float32]:
        return super().encode([f"{text} {self.name}" for text in texts], show_progress)


def test_after_an_encoder_change_the_owners_questions_are_embedded_again_too(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "cards.md"
    path.write_text(ASKED, encoding="utf-8")
    KnowledgeBase(store, _SaltedEncoder("first"), lexical_weight=0.0).add_file(path)
    second = _SaltedEncoder("second")
    kb = KnowledgeBase(store, second, lexical_weight=0.0)
    assert kb.search("the cash machine ate it", 1)[0].heading == "Cards > Swallowed"
    assert "the cash machine ate it second" in second.embedded  # what the salted encoder saw
    row = next(store.db.query("select vector from kb_passage_questions where question = 'the cash machine ate it'"))
    assert np.allclose(blob_to_vector(row["vector"]), second.encode(["the cash machine ate it"])[0])
