"""'similar' rules with the bundled all-MiniLM-L6-v2: paraphrases match, unrelated text does not."""

from __future__ import annotations

from pathlib import Path

from bot.engine.fake import ScriptedEngine
from bot.rules.feature import RulesFeature, shared_encode
from tests.support import build_test_app, incoming


async def test_paraphrase_triggers_a_similar_rule_and_unrelated_text_goes_to_the_model(tmp_path: Path) -> None:
    engine = ScriptedEngine(default_reply="from the model")
    app = build_test_app(
        tmp_path,
        engine=engine,
        config_text="[rules]\ndefault_cooldown_s = 0\n",
        features=[RulesFeature(encoder=shared_encode())],
    )
    await app.start()
    try:
        added = await app.manager.handle(
            incoming(
                '/rules add similar threshold=0.6 "how do I reset my password" -> Go to Settings > Account > Reset.',
                is_admin=True,
            )
        )
        assert added[0].text.startswith("Added rule #1")
        replies = await app.manager.handle(incoming("I forgot my password, how can I change it?"))
        assert [reply.text for reply in replies] == ["Go to Settings > Account > Reset."]
        conversation = app.store.conversation_id(incoming("x").conversation)
        details = app.store.messages_for(conversation)[-1].details
        assert details is not None and details["rule_id"] == 1 and details["score"] >= 0.6
        unrelated = await app.manager.handle(incoming("what time does the bakery open on sunday?"))
        assert [reply.text for reply in unrelated] == ["from the model"]
        tested = await app.manager.handle(incoming("/rules test password reset please", is_admin=True))
        assert tested[0].text.startswith("Rule #1 (similarity")
    finally:
        await app.stop()
