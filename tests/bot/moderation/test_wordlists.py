"""Per-language word lists: whole words, no case or accents, and owners can extend them."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.moderation.wordlists import WordListError, WordLists, fold


def test_matching_ignores_case_and_accents_but_needs_whole_words() -> None:
    lists = WordLists({"es": ["cabrón", "hijo de puta"]})
    assert lists.match("es", "¡Eres un CABRON!") == "cabron"
    assert lists.match("es", "ese hijo de puta") == "hijo de puta"
    assert lists.match("es", "cabronazo no es la palabra") is None
    assert lists.match("fr", "cabrón") is None and not lists.covers("fr")


def test_shipped_lists_cover_the_languages_without_a_model_and_leave_plain_text_alone() -> None:
    lists = WordLists.load()
    assert {"es", "fr", "de", "pt", "it"} <= set(lists.languages)
    assert lists.match("fr", "Bonjour, je voudrais réserver une table pour deux.") is None
    assert lists.match("de", "Halt die Fresse!") == "halt die fresse"


def test_an_owner_folder_and_inline_words_add_to_the_shipped_lists(tmp_path: Path) -> None:
    (tmp_path / "nl.txt").write_text("# Dutch\nklootzak\n", encoding="utf-8")
    (tmp_path / "es.txt").write_text("tonto\n", encoding="utf-8")
    lists = WordLists.load(tmp_path, {"es": ["bobo"]})
    assert lists.match("nl", "wat een klootzak") == "klootzak"
    assert lists.match("es", "qué tonto") == "tonto" and lists.match("es", "eres bobo") == "bobo"
    assert lists.match("es", "vete a la mierda") is not None  # shipped words are kept


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WordListError, match="not a folder"):
        WordLists.load(tmp_path / "missing")


def test_fold_strips_accents_and_case() -> None:
    assert fold("Éxito Ça") == "exito ca"
