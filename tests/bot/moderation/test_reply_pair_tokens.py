"""The cross-encoder's (request, reply) pairs: one sequence, token types apart, long replies cut to head + tail."""

from __future__ import annotations

from bot.moderation.reply_pair_tokens import CLS_ID, SEP_ID, PairTokenizer


def test_pair_is_cls_request_sep_reply_sep_with_token_types() -> None:
    tokenizer = PairTokenizer(max_tokens=64)
    batch = tokenizer(["How do I bake bread?"], ["Mix flour, water and yeast."])
    ids = [int(v) for v in batch.input_ids[0]]
    types = [int(v) for v in batch.token_type_ids[0]]
    first_sep = ids.index(SEP_ID)
    assert ids[0] == CLS_ID
    assert ids[-1] == SEP_ID
    assert set(types[: first_sep + 1]) == {0}
    assert set(types[first_sep + 1 :]) == {1}
    assert int(batch.attention_mask[0].sum()) == len(ids)


def test_long_reply_keeps_its_head_and_tail_within_the_limit() -> None:
    tokenizer = PairTokenizer(max_tokens=48, request_tokens=8, tail_tokens=10)
    reply = " ".join(["start"] + ["middle"] * 200 + ["finish"])
    ids, types = tokenizer.pair_ids(list(range(1000, 1020)), tokenizer._ids([reply])[0])
    assert len(ids) == 48
    assert len(types) == 48
    vocabulary = tokenizer._tokenizer.get_vocab()
    assert vocabulary["start"] in ids
    assert ids[-2] == vocabulary["finish"]


def test_shorter_pairs_are_padded_to_the_longest_in_the_batch() -> None:
    tokenizer = PairTokenizer(max_tokens=64)
    batch = tokenizer(["hi", "Tell me a long story please"], ["hello", "Once upon a time there was a cat."])
    assert batch.input_ids.shape == batch.attention_mask.shape == batch.token_type_ids.shape
    assert int(batch.attention_mask[0].sum()) < batch.input_ids.shape[1]
    assert int(batch.input_ids[0, -1]) == 0
