"""The in-process engine with the real bundled model: batching and KV reuse never change greedy
output, requests join and leave a running batch, and limits are enforced."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from bot.engine.base import ChatTurn, EngineBusy, EngineTimeout, GenerationRequest, GenerationSettings
from bot.engine.loader import LoadedModel
from bot.engine.settings import EngineSettings
from bot.engine.text import clean_reply
from bot.engine.transformers_engine import TransformersEngine

pytestmark = pytest.mark.model

PROMPTS = [
    "Tell me a story about a dragon.",
    "What is the capital of France?",
    "Write a haiku about rain.",
    "Explain gravity to a child.",
    "List three fruits.",
]


def _request(
    messages: list[tuple[str, str]], conversation: str | None = None, tokens: int = 12, stop: tuple[str, ...] = ()
) -> GenerationRequest:
    return GenerationRequest(
        messages=tuple(ChatTurn(role, content) for role, content in messages),  # type: ignore[arg-type]
        settings=GenerationSettings(max_new_tokens=tokens, stop=stop),
        conversation_id=conversation,
    )


async def _engine(settings: EngineSettings, loaded: LoadedModel) -> TransformersEngine:
    engine = TransformersEngine(settings, loaded=loaded)
    await engine.start()
    return engine


@pytest.fixture
async def engine(engine_settings: EngineSettings, loaded_model: LoadedModel) -> AsyncIterator[TransformersEngine]:
    running = await _engine(engine_settings, loaded_model)
    yield running
    await running.stop()


async def test_batched_greedy_output_is_identical_to_one_at_a_time(engine: TransformersEngine) -> None:
    alone = [await engine.generate(_request([("user", p)])) for p in PROMPTS]
    together = await asyncio.gather(*(engine.generate(_request([("user", p)])) for p in PROMPTS))
    assert [r.text for r in together] == [r.text for r in alone]
    assert [r.completion_tokens for r in together] == [r.completion_tokens for r in alone]


async def test_kv_reuse_gives_identical_output_and_prefills_only_new_tokens(engine: TransformersEngine) -> None:
    for index, prompt in enumerate(PROMPTS[:3]):
        conversation = f"conv-{index}"
        first = await engine.generate(_request([("user", prompt)], conversation))
        history = [("user", prompt), ("assistant", first.text), ("user", "Tell me more, please.")]
        reused = await engine.generate(_request(history, conversation))
        fresh = await engine.generate(_request(history, None))
        assert reused.cached_prompt_tokens > first.prompt_tokens // 2
        assert fresh.cached_prompt_tokens == 0
        assert reused.text == fresh.text


async def test_diverging_history_reuses_the_common_prefix_only(engine: TransformersEngine) -> None:
    system = ("system", "You are a terse assistant who answers in one sentence. " * 4)
    await engine.generate(_request([system, ("user", "What is the capital of France?")], "edit"))
    edited = [system, ("user", "What is the capital of Italy?")]
    reused = await engine.generate(_request(edited, "edit"))
    fresh = await engine.generate(_request(edited))
    assert 0 < reused.cached_prompt_tokens < reused.prompt_tokens - 3
    assert reused.text == fresh.text


async def test_chunked_prefill_gives_identical_output(
    engine_settings: EngineSettings, loaded_model: LoadedModel
) -> None:
    long_prompt = [("user", " ".join(PROMPTS) + " Answer the third question only.")]
    outputs = []
    for chunk in (8, 4096):
        engine = await _engine(replace(engine_settings, prefill_chunk_tokens=chunk), loaded_model)
        outputs.append((await engine.generate(_request(long_prompt))).text)
        await engine.stop()
    assert outputs[0] == outputs[1]


async def test_tiny_cache_budget_evicts_and_output_is_unchanged(
    engine_settings: EngineSettings, loaded_model: LoadedModel
) -> None:
    engine = await _engine(replace(engine_settings, kv_cache_budget_mb=0), loaded_model)
    try:
        first = await engine.generate(_request([("user", PROMPTS[0])], "tiny"))
        history = [("user", PROMPTS[0]), ("assistant", first.text), ("user", "Why?")]
        second = await engine.generate(_request(history, "tiny"))
        stats = engine.pool_stats
        assert stats is not None and stats.evictions >= 1 and stats.hits == 0
        assert second.cached_prompt_tokens == 0
    finally:
        await engine.stop()
    reference = await _engine(engine_settings, loaded_model)
    try:
        await reference.generate(_request([("user", PROMPTS[0])], "ref"))
        assert (await reference.generate(_request(history, "ref"))).text == second.text
    finally:
        await reference.stop()


async def test_short_request_joins_a_running_batch_and_leaves_first(engine: TransformersEngine) -> None:
    solo_long = await engine.generate(_request([("user", PROMPTS[0])], tokens=40))
    order: list[str] = []

    async def long() -> str:
        pieces = []
        async for piece in engine.stream(_request([("user", PROMPTS[0])], tokens=40)):
            pieces.append(piece)
            if len(pieces) == 3:
                started.set()
        order.append("long")
        return "".join(pieces)

    async def short() -> None:
        await started.wait()
        await engine.generate(_request([("user", PROMPTS[1])], tokens=3))
        order.append("short")

    started = asyncio.Event()
    long_text, _ = await asyncio.gather(long(), short())
    assert order == ["short", "long"]
    assert clean_reply(long_text, finished_by_length=True) == solo_long.text


async def test_stream_pieces_join_to_the_reply_and_hide_stop_strings(engine: TransformersEngine) -> None:
    request = _request([("user", PROMPTS[1])], tokens=20)
    full = await engine.generate(request)
    pieces = [piece async for piece in engine.stream(request)]
    assert "".join(pieces).strip() == full.text
    stopped = [
        piece async for piece in engine.stream(replace(request, settings=replace(request.settings, stop=("Paris",))))
    ]
    assert "Paris" not in "".join(stopped)
    assert "".join(stopped).strip() == full.text.split("Paris")[0].strip()


async def test_closing_a_stream_frees_its_slot(engine_settings: EngineSettings, loaded_model: LoadedModel) -> None:
    engine = await _engine(replace(engine_settings, max_concurrent_sequences=1, max_queue=1), loaded_model)
    try:
        stream = engine.stream(_request([("user", PROMPTS[0])], tokens=200))
        await stream.__anext__()
        await stream.aclose()
        result = await asyncio.wait_for(engine.generate(_request([("user", PROMPTS[1])], tokens=4)), 30)
        assert result.completion_tokens >= 1
    finally:
        await engine.stop()


async def test_cancelled_task_frees_its_slot(engine_settings: EngineSettings, loaded_model: LoadedModel) -> None:
    engine = await _engine(replace(engine_settings, max_concurrent_sequences=1, max_queue=0), loaded_model)
    try:
        task = asyncio.create_task(engine.generate(_request([("user", PROMPTS[0])], tokens=200)))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        result = await asyncio.wait_for(engine.generate(_request([("user", PROMPTS[1])], tokens=4)), 30)
        assert result.completion_tokens >= 1
    finally:
        await engine.stop()


async def test_full_queue_raises_engine_busy_at_once(
    engine_settings: EngineSettings, loaded_model: LoadedModel
) -> None:
    engine = await _engine(replace(engine_settings, max_concurrent_sequences=1, max_queue=1), loaded_model)
    try:
        running = [asyncio.create_task(engine.generate(_request([("user", p)], tokens=30))) for p in PROMPTS[:2]]
        await asyncio.sleep(0)
        with pytest.raises(EngineBusy):
            await engine.generate(_request([("user", PROMPTS[2])]))
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
    finally:
        await engine.stop()


async def test_slow_request_times_out(engine_settings: EngineSettings, loaded_model: LoadedModel) -> None:
    engine = await _engine(replace(engine_settings, request_timeout_s=0.3), loaded_model)
    try:
        with pytest.raises(EngineTimeout):
            await engine.generate(_request([("user", PROMPTS[0])], tokens=500))
    finally:
        await engine.stop()


async def test_new_tokens_are_capped(engine_settings: EngineSettings, loaded_model: LoadedModel) -> None:
    engine = await _engine(replace(engine_settings, max_new_tokens_cap=3), loaded_model)
    try:
        result = await engine.generate(_request([("user", PROMPTS[0])], tokens=50))
        assert result.completion_tokens == 3 and result.finish_reason == "length"
    finally:
        await engine.stop()


async def test_count_tokens_matches_the_prompt_the_engine_runs(engine: TransformersEngine) -> None:
    messages = [("user", PROMPTS[0])]
    result = await engine.generate(_request(messages, tokens=1))
    assert engine.count_tokens([ChatTurn("user", PROMPTS[0])]) == result.prompt_tokens


def test_kv_dtype_auto_stores_bfloat16_on_cpu() -> None:
    import torch

    from bot.engine.transformers_engine import resolve_kv_dtype

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_kv_dtype("auto", torch.float32, cpu) == torch.bfloat16
    assert resolve_kv_dtype("auto", torch.float32, cuda) == torch.float32
    assert resolve_kv_dtype("float32", torch.float32, cpu) == torch.float32
    assert resolve_kv_dtype("bfloat16", torch.float32, cuda) == torch.bfloat16
    with pytest.raises(ValueError):
        EngineSettings(kv_dtype="float16")  # type: ignore[arg-type]


@pytest.mark.parametrize("kv_dtype", ["float32", "bfloat16"])
async def test_each_kv_dtype_is_self_consistent_across_batching_reuse_and_chunks(
    engine_settings: EngineSettings, loaded_model: LoadedModel, kv_dtype: str
) -> None:
    import torch

    settings = replace(engine_settings, kv_dtype=kv_dtype)  # type: ignore[arg-type]
    engine = await _engine(settings, loaded_model)
    try:
        assert engine.pool_stats is not None
        assert engine._scheduler is not None and engine._scheduler.pool.shape.dtype == getattr(torch, kv_dtype)
        alone = [await engine.generate(_request([("user", p)], f"{kv_dtype}-{i}")) for i, p in enumerate(PROMPTS[:3])]
        together = await asyncio.gather(*(engine.generate(_request([("user", p)])) for p in PROMPTS[:3]))
        assert [r.text for r in together] == [r.text for r in alone]
        history = [("user", PROMPTS[0]), ("assistant", alone[0].text), ("user", "Tell me more, please.")]
        reused = await engine.generate(_request(history, f"{kv_dtype}-0"))
        fresh = await engine.generate(_request(history))
        assert reused.cached_prompt_tokens > 0 and reused.text == fresh.text
    finally:
        await engine.stop()
    chunked = await _engine(replace(settings, prefill_chunk_tokens=8), loaded_model)
    try:
        assert (await chunked.generate(_request(history))).text == fresh.text
    finally:
        await chunked.stop()


async def test_two_thread_attention_gives_identical_output(
    engine_settings: EngineSettings, loaded_model: LoadedModel
) -> None:
    """With two torch threads a helper thread attends to half of the sequences; outputs match."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        # Two threads on a shared two-core machine can be slow; this checks equality, not speed.
        engine = await _engine(replace(engine_settings, request_timeout_s=300.0), loaded_model)
        try:
            assert engine._scheduler is not None and engine._scheduler._helper is not None
            alone = [await engine.generate(_request([("user", p)])) for p in PROMPTS]
            together = await asyncio.gather(*(engine.generate(_request([("user", p)])) for p in PROMPTS))
        finally:
            await engine.stop()
    finally:
        torch.set_num_threads(threads)
    assert [r.text for r in together] == [r.text for r in alone]


async def test_native_decode_attention_gives_the_same_replies_as_torch(
    engine_settings: EngineSettings, loaded_model: LoadedModel
) -> None:
    """The C kernel decodes; torch alone gives the same greedy replies, batched and one at a time."""
    native = await _engine(engine_settings, loaded_model)
    try:
        assert native._scheduler is not None
        if native._scheduler._kernel is None:
            pytest.skip("no C compiler or no AVX-512 here: the engine keeps torch attention")
        together = await asyncio.gather(*(native.generate(_request([("user", p)], tokens=24)) for p in PROMPTS))
    finally:
        await native.stop()
    plain = await _engine(replace(engine_settings, native_attention=False), loaded_model)
    try:
        assert plain._scheduler is not None and plain._scheduler._kernel is None
        alone = [await plain.generate(_request([("user", p)], tokens=24)) for p in PROMPTS]
    finally:
        await plain.stop()
    assert [r.text for r in together] == [r.text for r in alone]
