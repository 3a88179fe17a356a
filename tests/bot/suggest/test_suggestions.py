"""Drafts from the model: distinct, gated, stored; reviewed and scheduled by admins from chat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import BotApp
from bot.engine.fake import ScriptedEngine
from bot.moderation.gate import GatePolicy, ModerationGate
from bot.scheduling.clock import ManualClock
from bot.scheduling.feature import SchedulingFeature
from bot.suggest import SuggestError
from bot.suggest.feature import SuggestFeature
from bot.suggest.generator import SuggestionService
from tests.bot.scheduling.conftest import START
from tests.bot.scheduling.fake_sender import FakePlatform
from tests.support import build_test_app, incoming


@pytest.fixture
def engine() -> ScriptedEngine:
    return ScriptedEngine()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def app(tmp_path: Path, engine: ScriptedEngine, clock: ManualClock) -> AsyncIterator[BotApp]:
    gate = ModerationGate(GatePolicy(blocklist=("darn",)))
    # build_test_app writes [bot] database itself; the extra [bot] keys go through an env override
    bot_app = build_test_app(
        tmp_path,
        engine=engine,
        gate=gate,
        features=[SchedulingFeature(clock, False), SuggestFeature()],
        environ={
            "SOCIALBOT__BOT__COMMUNITY_NAME": "Riverside Pottery Club",
            "SOCIALBOT__BOT__TONE": "warm and playful",
        },
    )
    await bot_app.start()
    yield bot_app
    await bot_app.stop()


def suggestions(app: BotApp) -> SuggestionService:
    feature = app.features[1]
    assert isinstance(feature, SuggestFeature) and feature.suggestions is not None
    return feature.suggestions


async def say(app: BotApp, text: str) -> str:
    replies = await app.manager.handle(incoming(text, platform="telegram", chat_id="-100", is_admin=True))
    return replies[0].text


async def test_drafts_are_distinct_sampled_with_different_seeds_and_angles_and_stored(
    app: BotApp, engine: ScriptedEngine
) -> None:
    engine.enqueue(
        "Who's ready for the spring glaze day?", "Tip: wedge your clay twice.", "Hello potters, the kiln is warm!"
    )

    result = await suggestions(app).suggest("spring glaze day", 3)

    assert [draft.status for draft in result.drafts] == ["draft"] * 3
    assert len({draft.text for draft in result.drafts}) == 3
    settings = [request.settings for request in engine.requests]
    assert len({s.seed for s in settings}) == 3
    assert all(s.temperature == 0.85 and s.top_p == 0.95 for s in settings)
    prompts = [request.messages[1].content for request in engine.requests]
    assert len(set(prompts)) == 3  # a different opening angle each
    assert "Riverside Pottery Club" in engine.requests[0].messages[0].content
    assert "warm and playful" in engine.requests[0].messages[0].content
    stored = list(app.store.db.query("select text, status, topic from drafts order by id"))
    assert [row["topic"] for row in stored] == ["spring glaze day"] * 3


async def test_near_duplicate_drafts_are_thrown_away_and_regenerated(app: BotApp, engine: ScriptedEngine) -> None:
    engine.enqueue(
        "Join our open studio this Saturday!",
        "Join our open studio this Saturday!!",
        "Bring a friend to try the wheel.",
    )

    result = await suggestions(app).suggest("open studio", 2)

    assert [draft.text for draft in result.drafts] == [
        "Join our open studio this Saturday!",
        "Bring a friend to try the wheel.",
    ]
    assert result.discarded == 1
    assert len(engine.requests) == 3


async def test_a_phone_number_in_a_draft_is_redacted_before_it_is_stored(app: BotApp, engine: ScriptedEngine) -> None:
    engine.enqueue("Questions? Call Maria at +1 415 555 0199 any evening.")

    result = await suggestions(app).suggest("evening classes", 1)

    draft = result.drafts[0]
    assert "[phone removed]" in draft.text and "555" not in draft.text
    assert draft.moderation_action == "redact" and "pii:phone" in draft.moderation_reasons
    row = next(app.store.db.query("select text from drafts"))
    assert "[phone removed]" in row["text"]


async def test_blocked_drafts_are_never_stored(app: BotApp, engine: ScriptedEngine) -> None:
    engine.enqueue("This darn kiln again.", "The kiln is fixed, come and fire your pots!")

    result = await suggestions(app).suggest("kiln", 1)

    assert [draft.text for draft in result.drafts] == ["The kiln is fixed, come and fire your pots!"]
    assert all("darn" not in row["text"] for row in app.store.db.query("select text from drafts"))


async def test_when_no_usable_draft_comes_out_the_admin_is_told(app: BotApp, engine: ScriptedEngine) -> None:
    engine.default_reply = "darn"
    with pytest.raises(SuggestError, match="no usable draft"):
        await suggestions(app).suggest("anything", 2)
    assert list(app.store.db.query("select * from drafts")) == []


async def test_recent_chat_topics_reach_the_prompt(app: BotApp, engine: ScriptedEngine) -> None:
    for text in ["The raku firing was amazing", "raku again next month?", "Who has raku glaze?"]:
        await app.manager.handle(incoming(text, platform="telegram", chat_id="-100", is_direct=False))
    engine.enqueue("Raku fans, rejoice!")

    result = await suggestions(app).suggest("club news", 1)

    assert result.recent_topics[0] == "raku"
    assert "raku" in engine.requests[-1].messages[1].content


async def test_suggest_approve_schedule_posted_from_chat(
    app: BotApp, engine: ScriptedEngine, clock: ManualClock
) -> None:
    telegram = FakePlatform("telegram")
    app.register_sender(telegram)
    engine.enqueue("Spring sale: all mugs half price this weekend!", "Ready for spring? New glazes are in.")

    listing = await say(app, "/suggest spring sale 2")
    assert listing.startswith("2 draft(s) about spring sale:")
    assert "#1 [draft]" in listing and "#2 [draft]" in listing

    assert "cannot be scheduled" not in await say(app, "/draft edit 1 Spring sale: mugs half price Saturday!")
    assert await say(app, "/draft reject 2") == "Draft #2 rejected."
    assert "approve it before scheduling" in await say(app, "/schedule 1 here in 1h")
    assert (await say(app, "/draft approve 1")).startswith("Draft #1 approved.")
    assert (await say(app, "/schedule 1 telegram:-100 in 1h")).startswith("Scheduled #1")
    assert "[scheduled]" in await say(app, "/drafts")

    clock.advance(timedelta(hours=1))
    feature = app.features[0]
    assert isinstance(feature, SchedulingFeature) and feature.service is not None
    await feature.service.run_due()

    assert telegram.posted == ["Spring sale: mugs half price Saturday!"]
    assert "[posted]" in await say(app, "/draft show 1")


async def test_suggest_commands_are_admin_only(app: BotApp) -> None:
    for command in ("/suggest pots", "/drafts", "/draft approve 1"):
        replies = await app.manager.handle(incoming(command, is_admin=False))
        assert replies[0].text.startswith("Only admins can use /")
