"""Reading owner documents: every format becomes passages that respect headings and stay small."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.kb import KbError
from bot.kb.documents import parse_markdown, parse_text, read_document, split_sentences


def test_markdown_is_split_at_headings_with_the_heading_path(fixtures_dir: Path) -> None:
    document = read_document(fixtures_dir / "returns.md")
    assert document.kind == "markdown"
    assert document.title == "Returns"
    assert [passage.heading for passage in document.passages] == ["Returns > Standard returns", "Returns > Sale items"]
    assert "30 days" in document.passages[0].text
    assert "14 days" not in document.passages[0].text


def test_text_file_takes_its_first_short_line_as_title(fixtures_dir: Path) -> None:
    document = read_document(fixtures_dir / "shipping.txt")
    assert (document.kind, document.title) == ("text", "Shipping")
    assert "4.95 euros" in document.passages[0].text


def test_html_keeps_visible_text_and_drops_scripts(fixtures_dir: Path) -> None:
    document = read_document(fixtures_dir / "hours.html")
    assert (document.kind, document.title) == ("html", "Opening hours")
    text = " ".join(passage.text for passage in document.passages)
    assert "9 am to 7 pm" in text and "25 December" in text
    assert "var x" not in text
    assert document.passages[-1].heading == "Opening hours > Holidays"


def test_faq_csv_rows_become_question_answer_passages(fixtures_dir: Path) -> None:
    document = read_document(fixtures_dir / "faq.csv")
    assert document.kind == "faq"
    assert next((p.question, p.answer) for p in document.passages) == (
        "Do you offer gift wrapping?",
        "Yes, gift wrapping costs 3 euros per item.",
    )


def test_faq_json_accepts_short_key_names(fixtures_dir: Path) -> None:
    document = read_document(fixtures_dir / "faq.json")
    assert [p.question for p in document.passages] == ["How do I reset my password?", "Do you sell bikes?"]


def test_unsupported_binary_and_empty_files_are_refused_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "slides.pptx").write_bytes(b"PK\x03\x04")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02" * 10)
    (tmp_path / "empty.md").write_text("   \n", encoding="utf-8")
    (tmp_path / "bad.csv").write_text("foo,bar\n1,2\n", encoding="utf-8")
    for name, reason in [
        ("slides.pptx", "unsupported"),
        ("binary.txt", "binary"),
        ("empty.md", "no text"),
        ("bad.csv", "column"),
    ]:
        with pytest.raises(KbError, match=reason):
            read_document(tmp_path / name)


def test_a_long_section_is_cut_into_passages_at_sentence_ends() -> None:
    body = " ".join(f"Sentence number {index} is here." for index in range(100))
    document = parse_markdown(f"# Title\n\n## Long\n\n{body}", "src", "fallback", max_chars=300)
    assert len(document.passages) > 5
    assert all(len(passage.text) <= 300 for passage in document.passages)
    assert all(passage.text.endswith(".") for passage in document.passages)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=3000))
def test_any_text_parses_into_bounded_passages(text: str) -> None:
    for document in (parse_markdown(text, "s", "t", 200), parse_text(text, "s", "t", 200)):
        assert all(0 < len(passage.text) <= 200 for passage in document.passages)
        for passage in document.passages:
            split_sentences(passage.text)


def test_passage_hash_changes_with_content_only() -> None:
    first = parse_markdown("# A\n\n## B\n\nsame text", "s", "t").passages[0]
    again = parse_markdown("# A\n\n## B\n\nsame text", "other-source", "t").passages[0]
    changed = parse_markdown("# A\n\n## B\n\nnew text", "s", "t").passages[0]
    assert first.content_hash == again.content_hash != changed.content_hash


def test_questions_lines_name_the_sections_questions_and_stay_out_of_its_text() -> None:
    text = (
        "# Cards\n\n## Lost cards\n\nQuestions: I lost my card | What if my card is **stolen**?\n"
        "Report it in the app under Card > Report lost.\n\n## Fees\n\nCards are free.\n"
    )
    document = parse_markdown(text, "cards.md", "Cards")
    lost, fees = document.passages
    assert lost.questions == ("I lost my card", "What if my card is stolen?")
    assert "Questions" not in lost.text and lost.text == "Report it in the app under Card > Report lost."
    assert fees.questions == ()


def test_a_changed_question_changes_the_passage_hash() -> None:
    first = parse_markdown("# A\n\nQuestions: Where is it?\nHere.\n", "a.md", "A").passages[0]
    second = parse_markdown("# A\n\nQuestions: Where can I find it?\nHere.\n", "a.md", "A").passages[0]
    assert first.text == second.text
    assert first.content_hash != second.content_hash
