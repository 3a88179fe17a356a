"""End to end with the real bundled model: a grounded answer from the knowledge base."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.app import BotApp
from bot.config import load_config
from bot.kb.feature import KbFeature
from tests.support import incoming, write_config

pytestmark = pytest.mark.model


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def model_app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[BotApp]:
    folder = tmp_path_factory.mktemp("kb-model")
    config = load_config(
        write_config(folder, "[generation]\nmax_new_tokens = 24\n[kb]\nmax_new_tokens = 24\n"), environ={}
    )
    bot_app = BotApp.build(config)
    feature = next(feature for feature in bot_app.features if isinstance(feature, KbFeature))
    assert feature.kb is not None
    feature.kb.add_paths([Path(__file__).parent / "fixtures"])
    await bot_app.start()
    yield bot_app
    await bot_app.stop()


@pytest.mark.asyncio(loop_scope="module")
async def test_the_real_model_answers_from_the_knowledge_base_with_the_right_fact(model_app: BotApp) -> None:
    replies = await model_app.manager.handle(incoming("How much does express delivery cost?"))
    assert "9.95" in replies[0].text
    assert "(Source: Shipping)" in replies[0].text
    conversation_id = model_app.store.conversation_id(replies[0].conversation)
    assert model_app.store.messages_for(conversation_id)[-1].source in ("kb:generated", "kb:extractive")
