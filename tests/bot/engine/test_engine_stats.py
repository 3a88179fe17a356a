"""`stats()`: the engine's load and KV-cache use, read by the health check and /metrics."""

from __future__ import annotations

import pytest

from bot.engine.base import ChatTurn, GenerationRequest, GenerationSettings
from bot.engine.settings import EngineSettings
from bot.engine.transformers_engine import TransformersEngine
from bot.ops.metrics import EngineCollector


@pytest.mark.model
async def test_stats_follow_generation_and_the_kv_pool() -> None:
    engine = TransformersEngine(EngineSettings(device="cpu", threads=1, max_queue=4, max_concurrent_sequences=2))
    assert engine.stats().alive is False
    await engine.start()
    try:
        request = GenerationRequest(
            (ChatTurn("user", "Say hello."),), GenerationSettings(max_new_tokens=4), conversation_id="c1"
        )
        result = await engine.generate(request)
        stats = engine.stats()
        families = {family.name: family.samples[0].value for family in EngineCollector(engine).collect()}
    finally:
        await engine.stop()
    assert stats.alive and (stats.running, stats.queued, stats.capacity) == (0, 0, 6)
    assert stats.generated_tokens == result.completion_tokens > 0
    assert stats.completed_requests == 1
    assert stats.kv_entries == 1 and (stats.kv_bytes_idle or 0) > 0
    assert families["socialbot_kv_pool_budget_bytes"] == EngineSettings().kv_cache_budget_mb * 1024 * 1024
    assert families["socialbot_engine_generated_tokens"] == result.completion_tokens
    assert engine.stats().alive is False
