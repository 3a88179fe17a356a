"""Splitting long replies: chunks within the limit, in order, on natural boundaries."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.text_split import chunk_spans, split_message


def test_short_text_is_one_chunk() -> None:
    assert split_message("hello", 10) == ["hello"]


def test_paragraphs_are_preferred_boundaries() -> None:
    text = "A" * 30 + "\n\n" + "B" * 30
    assert split_message(text, 40) == ["A" * 30, "B" * 30]


def test_sentences_are_kept_whole_when_possible() -> None:
    assert split_message("One two three. Four five six.", 20) == ["One two three.", "Four five six."]


@given(st.text(min_size=0, max_size=3000), st.integers(min_value=1, max_value=500))
def test_chunks_respect_the_limit_and_keep_every_word(text: str, limit: int) -> None:
    chunks = split_message(text, limit)
    assert all(0 < len(chunk) <= limit for chunk in chunks)
    assert "".join("".join(chunks).split()) == "".join(text.split())


def test_chunk_spans_give_each_chunks_place_in_the_text_and_resume_from_an_offset() -> None:
    text = "First paragraph here.\n\nSecond one, a bit longer.\n\nThird."
    spans = chunk_spans(text, 30)
    assert [chunk for chunk, _, _ in spans] == split_message(text, 30)
    assert all(text[start:end] == chunk for chunk, start, end in spans)
    resumed = chunk_spans(text, 30, start=spans[0][2])
    assert resumed == spans[1:]
    assert chunk_spans(text, 30, start=len(text)) == []
