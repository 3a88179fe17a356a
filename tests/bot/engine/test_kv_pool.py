"""The per-conversation KV pool: prefix reuse, truncation on divergence, LRU eviction by budget."""

from __future__ import annotations

import torch

from bot.engine.kv_pool import CPU_HEADROOM_TOKENS, KVPool, KVShape, SequenceKV, common_prefix_length

SHAPE = KVShape(layers=2, kv_heads=1, head_dim=4, dtype=torch.float32, device=torch.device("cpu"))


def _finished(pool: KVPool, conversation: str, tokens: list[int]) -> None:
    kv = pool.acquire(conversation, tokens, len(tokens))
    kv.tokens.extend(tokens[kv.length :])
    pool.release(conversation, kv)


def test_common_prefix_length() -> None:
    assert common_prefix_length([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix_length([], [1]) == 0
    assert common_prefix_length([1, 2], [1, 2, 3]) == 2


def test_next_turn_reuses_the_cached_prefix() -> None:
    pool = KVPool(SHAPE, budget_bytes=10**9)
    _finished(pool, "c", [1, 2, 3, 4])
    kv = pool.acquire("c", [1, 2, 3, 4, 5, 6], 10)
    assert kv.length == 4
    assert kv.capacity >= 10


def test_diverging_prompt_keeps_only_the_common_prefix() -> None:
    pool = KVPool(SHAPE, budget_bytes=10**9)
    _finished(pool, "c", [1, 2, 3, 4])
    assert pool.acquire("c", [1, 2, 9, 9], 8).tokens == [1, 2]


def test_at_least_one_prompt_token_is_left_to_compute() -> None:
    pool = KVPool(SHAPE, budget_bytes=10**9)
    _finished(pool, "c", [1, 2, 3])
    assert pool.acquire("c", [1, 2, 3], 8).length == 2


def test_other_conversations_do_not_share_caches() -> None:
    pool = KVPool(SHAPE, budget_bytes=10**9)
    _finished(pool, "a", [1, 2, 3])
    assert pool.acquire("b", [1, 2, 3, 4], 8).length == 0


def test_least_recently_used_conversation_is_evicted_over_budget() -> None:
    one_entry = SHAPE.bytes_per_token * 64
    pool = KVPool(SHAPE, budget_bytes=2 * one_entry)
    _finished(pool, "a", [1, 2])
    _finished(pool, "b", [3, 4])
    _finished(pool, "c", [5, 6])
    assert pool.acquire("a", [1, 2, 7], 8).length == 0
    assert pool.stats().evictions >= 1


def test_growing_keeps_the_stored_values() -> None:
    pool = KVPool(SHAPE, budget_bytes=10**9)
    kv = pool.acquire("c", [1, 2], 2)
    kv.buffer[:, :, :, :2] = 7.0
    kv.tokens.extend([1, 2])
    kv.ensure_capacity(500)
    assert kv.capacity >= 500
    assert torch.all(kv.buffer[:, :, :, :2] == 7.0)


def test_bfloat16_caches_take_half_the_bytes() -> None:
    half = KVShape(layers=2, kv_heads=1, head_dim=4, dtype=torch.bfloat16, device=torch.device("cpu"))
    assert half.bytes_per_token * 2 == SHAPE.bytes_per_token


def _resident_mib() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def test_a_cache_holds_memory_only_for_stored_tokens_and_returns_it_when_dropped() -> None:
    # 30 layers x 3 key/value heads x 64 dims in bfloat16, as SmolLM2-135M: 1,000 tokens are ~22 MiB.
    shape = KVShape(layers=30, kv_heads=3, head_dim=64, dtype=torch.bfloat16, device=torch.device("cpu"))
    before = _resident_mib()
    kv = SequenceKV(shape, capacity=8000)  # ~176 MiB reserved
    kv.buffer[:, :, :, :1000] = 1.0
    kv.tokens.extend(range(1000))
    kv.ensure_capacity(9000)  # grown: a new buffer, the stored tokens copied over
    assert kv.buffer[0, 0, 0, 999, 0].item() == 1.0
    assert _resident_mib() - before < 60
    del kv
    assert _resident_mib() - before < 10


def test_a_dropped_cache_goes_back_to_the_os_after_other_big_blocks_were_freed() -> None:
    # Freeing a 30 MiB block raises glibc's mmap threshold to 30 MiB: a 20 MiB block from malloc would
    # then stay in its heap after being freed. Caches have their own mappings instead.
    block = torch.ones(30 * 2**20, dtype=torch.uint8)
    del block
    shape = KVShape(layers=30, kv_heads=3, head_dim=64, dtype=torch.bfloat16, device=torch.device("cpu"))
    kv = SequenceKV(shape, capacity=900)  # ~20 MiB
    kv.buffer.fill_(1.0)
    held = _resident_mib()
    del kv
    assert _resident_mib() < held - 15


def test_a_next_turn_within_the_headroom_keeps_its_buffer_and_the_budget_counts_what_was_asked() -> None:
    kv = SequenceKV(SHAPE, capacity=100)
    asked = kv.nbytes
    buffer = kv.buffer.data_ptr()
    kv.ensure_capacity(100 + CPU_HEADROOM_TOKENS // 2)  # e.g. the history plus a reply and a new message
    assert kv.buffer.data_ptr() == buffer  # no copy into a grown buffer
    assert kv.nbytes > asked  # the budget counts the new tokens asked for
    assert kv.nbytes == kv.reserved * SHAPE.bytes_per_token
