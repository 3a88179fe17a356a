"""A configured sentence-embedding model (`[kb] embedding_model`: a sentence-transformers id or folder) is the
one the knowledge base searches with, also for questions in another language than the documents."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.embeddings import EmbeddingError, SentenceEncoder, bundled_encoder_dir, shared_encoder
from bot.kb.feature import KbFeature
from bot.kb.knowledge_base import MODEL_KEY, KnowledgeBase
from bot.store import Store
from tests.bot.kb.conftest import FIXTURES
from tests.bot.policy.conftest import POLICY_ON
from tests.support import build_test_app, incoming


def copied_model(tmp_path: Path) -> Path:
    """The bundled model in a folder of its own: a configured model the bot has not seen before."""
    folder = tmp_path / "configured-model"
    shutil.copytree(bundled_encoder_dir(), folder)
    return folder


async def test_a_question_in_spanish_is_searched_with_the_configured_model(tmp_path: Path) -> None:
    model = copied_model(tmp_path)
    config = POLICY_ON + f'[kb]\nembedding_model = "{model.as_posix()}"\n'
    app = build_test_app(tmp_path, config_text=config)
    feature = next(feature for feature in app.features if isinstance(feature, KbFeature))
    assert feature.kb is not None
    assert isinstance(feature.kb.encoder, SentenceEncoder) and feature.kb.encoder is not shared_encoder()
    assert feature.kb.encoder_name == str(model.resolve())
    feature.kb.add_paths([FIXTURES])
    await app.start()
    try:
        replies = await app.manager.handle(incoming("¿Cuánto cuesta el envío estándar a Madrid?", chat_id="es"))
        last = app.store.messages_for(app.store.conversation_id(replies[0].conversation))[-1]
        details = dict(last.details or {})
        assert details["language"] == "es"
        assert str(last.source).startswith("kb:")  # the knowledge base answered or declined, not the model
        assert details["sources"], "the question was searched in the knowledge base"
        assert app.store.get_state(MODEL_KEY) == str(model.resolve())
        if details["outcome"] == "declined":
            assert replies[0].text.startswith(("Lo siento", "No lo sé", "No tengo"))
    finally:
        await app.stop()


def test_vectors_of_another_model_are_embedded_again_before_the_next_search(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "kb.db")
    try:
        bundled = KnowledgeBase(store)
        bundled.add_paths([FIXTURES])
        assert bundled.search("how much is standard shipping", 1)
        assert store.get_state(MODEL_KEY) in (None, "bundled:all-MiniLM-L6-v2")
        before = {row["id"]: row["vector"] for row in store.db.query("select id, vector from kb_passages")}

        model = copied_model(tmp_path)
        configured = KnowledgeBase(store, encoder=SentenceEncoder(model))
        hits = configured.search("how much is standard shipping", 1)
        assert hits and "shipping" in hits[0].source
        assert store.get_state(MODEL_KEY) == str(model.resolve())
        after = {row["id"]: row["vector"] for row in store.db.query("select id, vector from kb_passages")}
        assert after.keys() == before.keys()
        # The same weights in another folder give the same vectors: embedded again, nothing lost or mixed.
        assert configured.passage_count() == bundled.passage_count()
    finally:
        store.close()


def test_an_unloadable_model_is_named_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match="not-a-model-folder"):
        SentenceEncoder(tmp_path / "not-a-model-folder").encode(["hello"])
