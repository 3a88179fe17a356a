"""Memory follow-ups recognised by meaning (the real bundled multilingual encoder and the bundled files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.memory.semantic_recall import (
    FollowUpFileError,
    SemanticFollowUps,
    load_canonical_follow_ups,
    read_follow_up_file,
)
from bot.multilingual_encoder import shared_multilingual_encoder


@pytest.fixture(scope="module")
def by_meaning() -> SemanticFollowUps:
    return SemanticFollowUps(load_canonical_follow_ups(), shared_multilingual_encoder())


def test_a_follow_up_in_a_phrasing_no_pattern_names_is_read_by_meaning(by_meaning: SemanticFollowUps) -> None:
    question = by_meaning.question("a che numero ti avevo detto di chiamarmi?")
    assert question is not None and question.kind == "phone"


def test_a_question_about_the_bot_itself_is_not_a_follow_up(by_meaning: SemanticFollowUps) -> None:
    assert by_meaning.question("what's your name?") is None


def test_stating_the_slot_is_not_asking_for_it(by_meaning: SemanticFollowUps) -> None:
    assert by_meaning.question("my phone number is 0612345678") is None


def test_asking_for_an_action_on_an_order_is_left_to_the_knowledge_base(by_meaning: SemanticFollowUps) -> None:
    assert by_meaning.question("can you cancel my order?") is None


def test_an_owner_file_replaces_the_bundled_file_of_its_language(tmp_path: Path) -> None:
    folder = tmp_path / "memory_follow_ups"
    folder.mkdir()
    (folder / "en.toml").write_text('name = ["who did I say I was?"]\n', encoding="utf-8")
    english = [q for q in load_canonical_follow_ups([tmp_path]) if q.language == "en"]
    assert [q.text for q in english] == ["who did I say I was?"]


def test_a_slot_that_is_not_a_list_of_questions_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "en.toml"
    path.write_text('name = "what is my name"\n', encoding="utf-8")
    with pytest.raises(FollowUpFileError, match=r"en\.toml"):
        read_follow_up_file(path)
