"""The KB feature in the bot: curated and grounded answers, honest declines, and the human handoff cycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import BotApp
from bot.engine.fake import ScriptedEngine
from bot.kb.feature import KbFeature
from bot.kb.tickets import wants_human
from tests.support import build_test_app, incoming

STAFF = '[kb]\nstaff_platform = "console"\nstaff_chat_id = "staff-room"\ngenerate_min_chars = 0\n'


def kb_feature(app: BotApp) -> KbFeature:
    return next(feature for feature in app.features if isinstance(feature, KbFeature))


@pytest.fixture
async def kb_app(tmp_path: Path, scripted_engine: ScriptedEngine, fixtures_dir: Path) -> AsyncIterator[BotApp]:
    """A started bot whose knowledge base holds the fixture documents, with a staff chat configured."""
    bot_app = build_test_app(tmp_path, engine=scripted_engine, config_text=STAFF)
    feature = kb_feature(bot_app)
    assert feature.kb is not None
    feature.kb.add_paths([fixtures_dir])
    await bot_app.start()
    yield bot_app
    await bot_app.stop()


def last_source(app: BotApp, reply_conversation: object) -> str | None:
    conversation_id = app.store.conversation_id(reply_conversation)  # type: ignore[arg-type]
    return app.store.messages_for(conversation_id)[-1].source


async def test_a_close_faq_match_gets_the_curated_answer_verbatim(
    kb_app: BotApp, scripted_engine: ScriptedEngine
) -> None:
    replies = await kb_app.manager.handle(incoming("Do you offer gift wrapping?"))
    assert replies[0].text.startswith("Yes, gift wrapping costs 3 euros per item.")
    assert "(Source: FAQ)" in replies[0].text
    assert scripted_engine.requests == []
    assert last_source(kb_app, replies[0].conversation) == "kb:faq"


async def test_a_supported_model_answer_is_used_and_names_its_source(
    kb_app: BotApp, scripted_engine: ScriptedEngine
) -> None:
    scripted_engine.enqueue("Standard delivery costs 4.95 euros and takes 3 to 5 working days.")
    replies = await kb_app.manager.handle(incoming("How much does standard delivery cost?"))
    assert replies[0].text == ("Standard delivery costs 4.95 euros and takes 3 to 5 working days.\n(Source: Shipping)")
    prompt = scripted_engine.requests[0].messages[-1].content
    assert "4.95 euros" in prompt and "How much does standard delivery cost?" in prompt


async def test_a_model_answer_with_unsupported_facts_falls_back_to_the_passage(
    kb_app: BotApp, scripted_engine: ScriptedEngine
) -> None:
    scripted_engine.enqueue("Standard delivery costs 2.50 euros.")
    replies = await kb_app.manager.handle(incoming("How much does standard delivery cost?"))
    assert "4.95 euros" in replies[0].text
    assert "2.50" not in replies[0].text
    assert last_source(kb_app, replies[0].conversation) == "kb:extractive"


async def test_a_question_outside_the_knowledge_base_is_declined_with_an_offer_of_a_person(
    kb_app: BotApp, scripted_engine: ScriptedEngine
) -> None:
    replies = await kb_app.manager.handle(incoming("Who won the football world cup in 2018?"))
    assert "I don't know" in replies[0].text and "/human" in replies[0].text
    assert scripted_engine.requests == []
    assert last_source(kb_app, replies[0].conversation) == "kb:declined"


async def test_small_talk_and_an_empty_knowledge_base_fall_through_to_the_plain_model(
    tmp_path: Path, kb_app: BotApp, scripted_engine: ScriptedEngine
) -> None:
    scripted_engine.enqueue("Hello there!")
    replies = await kb_app.manager.handle(incoming("hi!"))
    assert replies[0].text == "Hello there!"
    (tmp_path / "empty").mkdir()
    empty = build_test_app(tmp_path / "empty", engine=ScriptedEngine(["plain model"]))
    await empty.start()
    try:
        replies = await empty.manager.handle(incoming("How much does standard delivery cost?"))
        assert replies[0].text == "plain model"
    finally:
        await empty.stop()


async def test_group_messages_not_addressed_to_the_bot_get_no_kb_answer(kb_app: BotApp) -> None:
    assert await kb_app.manager.handle(incoming("Do you offer gift wrapping?", is_direct=False)) == []


async def test_the_whole_handoff_cycle(kb_app: BotApp, scripted_engine: ScriptedEngine) -> None:
    customer = {"chat_id": "customer-chat", "user_id": "alice"}
    staff = {"chat_id": "staff-room", "user_id": "bob", "display_name": "Bob", "is_admin": True}
    await kb_app.manager.handle(incoming("Do you offer gift wrapping?", **customer))

    opened = await kb_app.manager.handle(incoming("/human my parcel never arrived", **customer))
    assert "ticket #1" in opened[0].text
    to_staff = opened[1]
    assert (to_staff.kind, to_staff.conversation.chat_id) == ("staff", "staff-room")
    assert "New ticket #1 from Alice" in to_staff.text
    assert "my parcel never arrived" in to_staff.text and "gift wrapping" in to_staff.text
    assert "/ticket close 1" in to_staff.text

    quiet = await kb_app.manager.handle(incoming("hello? anyone?", **customer))
    assert [(m.kind, m.conversation.chat_id) for m in quiet] == [("staff", "staff-room")]
    assert quiet[0].text == "[ticket #1] Alice: hello? anyone?"
    still_quiet = await kb_app.manager.handle(incoming("Do you offer gift wrapping?", **customer))
    assert [m.kind for m in still_quiet] == ["staff"]
    assert scripted_engine.requests == []

    listed = await kb_app.manager.handle(incoming("/tickets", **staff))
    assert "#1 Alice in console:customer-chat:" in listed[0].text

    closed = await kb_app.manager.handle(incoming("/ticket close 1", **staff))
    assert closed[0].text == "Ticket #1 closed; Alice has been told."
    assert closed[1].conversation.chat_id == "customer-chat"
    assert "Ticket #1 is closed" in closed[1].text

    resumed = await kb_app.manager.handle(incoming("Do you offer gift wrapping?", **customer))
    assert resumed[0].text.startswith("Yes, gift wrapping costs 3 euros")
    assert len(resumed) == 1


async def test_asking_for_a_person_in_plain_words_opens_a_ticket(kb_app: BotApp) -> None:
    replies = await kb_app.manager.handle(incoming("Can I talk to a real person please?"))
    assert "ticket #1" in replies[0].text
    assert replies[1].kind == "staff"
    again = await kb_app.manager.handle(incoming("/human"))
    assert again[0].text == "A person from our team has already been asked (ticket #1)."
    feature = kb_feature(kb_app)
    assert feature.desk is not None and len(feature.desk.tickets()) == 1


async def test_only_admins_close_tickets_and_closing_in_the_conversation_resumes_it(kb_app: BotApp) -> None:
    await kb_app.manager.handle(incoming("/human"))
    refused = await kb_app.manager.handle(incoming("/ticket close"))
    assert refused[0].text == "Only admins can use /ticket."
    closed = await kb_app.manager.handle(incoming("/ticket close", is_admin=True))
    assert "Ticket #1 is closed" in closed[0].text
    missing = await kb_app.manager.handle(incoming("/ticket close 99", is_admin=True))
    assert "no ticket #99" in missing[0].text


async def test_forgetting_a_user_deletes_their_tickets(kb_app: BotApp) -> None:
    await kb_app.manager.handle(incoming("/human"))
    feature = kb_feature(kb_app)
    assert feature.desk is not None and len(feature.desk.tickets()) == 1
    await kb_app.manager.handle(incoming("/forgetme"))
    assert feature.desk.tickets(include_closed=True) == []


@pytest.mark.parametrize(
    "text",
    [
        "can I talk to a person",
        "I want to speak to a human",
        "agent please",
        "Human!",
        "get me a real person",
        "connect me with customer service",
        "I need to talk to someone from your staff",
        "is there a human I can ask?",
    ],
)
def test_requests_for_a_person_are_recognised(text: str) -> None:
    assert wants_human(text)


@pytest.mark.parametrize(
    "text",
    [
        "How much does delivery cost?",
        "Do you sell tents for two people?",
        "What is your phone number?",
        "personal data",
        "the manager's discount",
        "Can I return a jacket?",
    ],
)
def test_ordinary_questions_are_not_taken_for_requests_for_a_person(text: str) -> None:
    assert not wants_human(text)


async def test_a_short_quote_is_the_answer_and_the_model_is_not_asked_to_reword_it(
    tmp_path: Path, fixtures_dir: Path
) -> None:
    engine = ScriptedEngine()
    bot_app = build_test_app(tmp_path, engine=engine)  # default generate_min_chars
    feature = kb_feature(bot_app)
    assert feature.kb is not None
    feature.kb.add_paths([fixtures_dir])
    await bot_app.start()
    try:
        replies = await bot_app.manager.handle(incoming("How much does standard delivery cost?"))
        assert "4.95 euros" in replies[0].text
        assert engine.requests == []
        assert last_source(bot_app, replies[0].conversation) == "kb:extractive"
    finally:
        await bot_app.stop()
