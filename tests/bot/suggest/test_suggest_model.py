"""The real bundled model drafts distinct, gated, stored posts (one model load for the module)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import BotApp
from bot.config import load_config
from bot.moderation.gate import GatePolicy, ModerationGate
from bot.scheduling.feature import SchedulingFeature
from bot.suggest.feature import SuggestFeature
from bot.suggest.similarity import jaccard
from tests.support import write_config

pytestmark = pytest.mark.model

CONFIG = """community_name = "Riverside Pottery Club"
tone = "warm and playful"
[model]
threads = 1
[generation]
max_new_tokens = 24
[suggest]
max_new_tokens = 60
"""


@pytest.fixture
async def model_app(tmp_path: Path) -> AsyncIterator[BotApp]:
    """One model load: this module has a single real-model test."""
    config = load_config(write_config(tmp_path, CONFIG), environ={})
    app = BotApp.build(
        config, gate=ModerationGate(GatePolicy()), features=[SchedulingFeature(run_scheduler=False), SuggestFeature()]
    )
    await app.start()
    yield app
    await app.stop()


async def test_real_model_writes_three_distinct_gated_drafts(model_app: BotApp) -> None:
    feature = model_app.features[1]
    assert isinstance(feature, SuggestFeature) and feature.suggestions is not None

    result = await feature.suggestions.suggest("open studio day", 3, created_by="test")

    texts = [draft.text for draft in result.drafts]
    assert len(texts) == 3 and all(texts)
    assert all(jaccard(a, b) < 0.6 for i, a in enumerate(texts) for b in texts[i + 1 :])
    rows = list(model_app.store.db.query("select text, status, moderation from drafts order by id"))
    assert [row["text"] for row in rows] == texts
    assert all(row["status"] == "draft" and '"action"' in row["moderation"] for row in rows)
