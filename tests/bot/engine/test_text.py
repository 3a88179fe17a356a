"""clean_reply and streamed-text assembly: template tokens, sentence cuts, stop strings, UTF-8."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.engine.text import ReplyText, clean_reply

TEMPLATE_TOKENS = st.sampled_from(["<|im_end|>", "<|endoftext|>", "<|im_start|>", "<|eot_id|>"])
TEXT = st.lists(st.one_of(st.text(max_size=20), TEMPLATE_TOKENS, st.sampled_from([". ", "! ", "?", "…"]))).map("".join)


@given(TEXT, st.booleans())
def test_clean_reply_has_no_template_tokens_and_is_trimmed(text: str, by_length: bool) -> None:
    cleaned = clean_reply(text, by_length)
    assert re.search(r"<\|[^<>|]{0,40}\|>", cleaned) is None
    assert cleaned == cleaned.strip()


@given(TEXT, st.booleans())
def test_clean_reply_is_idempotent(text: str, by_length: bool) -> None:
    once = clean_reply(text, by_length)
    assert clean_reply(once, by_length) == once


@given(st.text(alphabet=st.characters(exclude_characters="<|>"), max_size=200))
def test_clean_reply_only_removes_and_never_invents_text(text: str) -> None:
    cleaned = clean_reply(text, finished_by_length=True)
    assert cleaned in text


@given(st.text(alphabet=st.characters(exclude_characters="<|>"), max_size=200))
def test_reply_cut_by_length_ends_at_a_sentence_end_when_it_has_one(text: str) -> None:
    cleaned = clean_reply(text, finished_by_length=True)
    if re.search(r"[.!?…][\"'”’)\]]*(\s|$)", text.strip()):
        assert re.search(r"[.!?…][\"'”’)\]]*$", cleaned)


def test_examples() -> None:
    assert clean_reply("  Hello there.<|im_end|>  ", False) == "Hello there."
    assert clean_reply("Sure! I can help. The answer is", True) == "Sure! I can help."
    assert clean_reply("no sentence end here", True) == "no sentence end here"
    assert clean_reply("Version 2.5 is out. It has", True) == "Version 2.5 is out."
    assert clean_reply("Hi.<|im_end|>\n<|im_start|>user\nmore", False) == "Hi."


def _decoder(pieces: dict[int, bytes]):  # type: ignore[no-untyped-def]
    return lambda ids: b"".join(pieces[i] for i in ids).decode("utf-8", errors="replace")


def test_reply_text_never_splits_a_multibyte_character() -> None:
    snowman = "☃".encode()
    decode = _decoder({1: b"a", 2: snowman[:1], 3: snowman[1:2], 4: snowman[2:], 5: b"b"})
    reply = ReplyText(decode, stop=())
    pieces = [reply.push(i).piece for i in (1, 2, 3, 4, 5)]
    assert pieces == ["a", "", "", "☃", "b"]


def test_stop_string_across_tokens_is_not_emitted() -> None:
    decode = _decoder({1: b"Hello ", 2: b"Us", 3: b"er:", 4: b" more"})
    reply = ReplyText(decode, stop=("User:",))
    first = reply.push(1)
    second = reply.push(2)
    third = reply.push(3)
    assert (first.piece, second.piece) == ("Hello ", "")
    assert third.stopped
    assert first.piece + second.piece + third.piece == "Hello "
    assert reply.text == "Hello "


def test_held_back_prefix_is_released_when_it_is_not_a_stop_string() -> None:
    decode = _decoder({1: b"Use", 2: b"ful"})
    reply = ReplyText(decode, stop=("User:",))
    assert reply.push(1).piece == ""
    assert reply.push(2).piece == "Useful"
    assert reply.flush() == ""
