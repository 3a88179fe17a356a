"""The memory feature through the manager: kept facts, follow-ups, scope, restarts, /memory and /forgetme."""

from __future__ import annotations

from pathlib import Path

from bot.app import BotApp
from bot.engine.fake import ScriptedEngine
from tests.support import build_test_app, incoming

NO_LIMITS = "[rules]\nuser_capacity = 0\nchat_capacity = 0\n"


async def say(app: BotApp, text: str, **where: object) -> str:
    replies = await app.manager.handle(incoming(text, **where))  # type: ignore[arg-type]
    return "\n".join(reply.text for reply in replies)


async def started(tmp_path: Path, engine: ScriptedEngine | None = None, config: str = NO_LIMITS) -> BotApp:
    app = build_test_app(tmp_path, engine=engine or ScriptedEngine(), config_text=config)
    await app.start()
    return app


async def test_a_stated_name_and_order_number_answer_later_follow_ups_from_memory(tmp_path: Path) -> None:
    app = await started(tmp_path)
    try:
        assert "Anna" in await say(app, "Hi, my name is Anna")
        await say(app, "My order number is A-12345 and it has not arrived")
        for _ in range(5):
            await say(app, "tell me something nice")
        assert await say(app, "What's my name?") == "Your name is Anna (you told me on " + _today(app) + ")."
        assert "A-12345" in await say(app, "What was my order number?")
        assert "haven't told me when your appointment is" in await say(app, "When is my appointment?")
    finally:
        await app.stop()


async def test_an_introduction_with_an_aside_is_remembered_as_the_name(tmp_path: Path) -> None:
    app = await started(tmp_path)
    try:
        await say(app, "I'm Marcus, by the way.")
        assert "Marcus" in await say(app, "Do you remember my name?")
    finally:
        await app.stop()


async def test_a_portuguese_order_number_is_recalled_in_portuguese_not_spanish(tmp_path: Path) -> None:
    app = await started(tmp_path)
    try:
        await say(app, "Meu número de pedido é 31877.")
        assert await say(app, "Qual era o meu número de pedido?") == (
            f"O número do seu pedido é 31877 (você me disse em {_today(app)})."
        )
        # A phrasing Spanish and Portuguese share is answered in the language the message is written in.
        assert (await say(app, "Mi número de pedido es 7731.")).strip()
        assert "Tu número de pedido es 7731" in await say(app, "¿Cuál era mi número de pedido?")
    finally:
        await app.stop()


async def test_how_someone_asked_to_be_called_answers_what_their_name_is(tmp_path: Path) -> None:
    app = await started(tmp_path)
    try:
        await say(app, "You can call me Sam")
        assert "call you Sam" in await say(app, "What's my name?")
    finally:
        await app.stop()


async def test_facts_survive_a_restart(tmp_path: Path) -> None:
    app = await started(tmp_path)
    await say(app, "My appointment is on Friday at 3pm")
    await app.stop()
    again = await started(tmp_path)
    try:
        assert "Friday at 3pm" in await say(again, "When is my appointment?")
    finally:
        await again.stop()


async def test_memory_is_never_shown_to_another_member_or_in_another_community(tmp_path: Path) -> None:
    app = await started(tmp_path)
    try:
        await say(app, "My name is Anna", chat_id="group-1", user_id="anna", is_direct=False, mentions_bot=True)
        other_member = await say(
            app, "What's my name?", chat_id="group-1", user_id="bob", is_direct=False, mentions_bot=True
        )
        other_group = await say(
            app, "What's my name?", chat_id="group-2", user_id="anna", is_direct=False, mentions_bot=True
        )
        other_platform = await say(app, "What's my name?", platform="telegram", chat_id="group-1", user_id="anna")
        same = await say(app, "What's my name?", chat_id="group-1", user_id="anna", is_direct=False, mentions_bot=True)
        assert "Anna" not in other_member + other_group + other_platform
        assert "Anna" in same
    finally:
        await app.stop()


async def test_remembered_facts_reach_the_models_prompt(tmp_path: Path) -> None:
    engine = ScriptedEngine()
    app = await started(tmp_path, engine)
    try:
        await say(app, "I'm allergic to peanuts")
        await say(app, "Can you suggest a dessert?")
        system = engine.requests[-1].messages[0].content
        assert "allergic to: peanuts" in system
    finally:
        await app.stop()


async def test_a_long_conversation_keeps_a_summary_of_what_fell_out_of_the_window(tmp_path: Path) -> None:
    engine = ScriptedEngine()
    app = await started(tmp_path, engine)
    try:
        await say(app, "We are moving the office to Lisbon on 14 March, tell the Porto team.")
        for number in range(20):
            await say(app, f"filler message number {number}")
        system = engine.requests[-1].messages[0].content
        assert "Earlier in this conversation" in system
        assert "Lisbon on 14 March" in system
    finally:
        await app.stop()


async def test_slash_memory_lists_with_dates_and_forgets_one_or_all(tmp_path: Path) -> None:
    app = await started(tmp_path)
    try:
        assert "don't remember anything" in await say(app, "/memory")
        await say(app, "My name is Anna")
        await say(app, "I prefer email")
        listing = await say(app, "/memory")
        assert f"1. Your name is Anna (you told me on {_today(app)})." in listing
        assert "2. You told me you prefer email" in listing
        assert await say(app, "/memory forget 1") == "Done: I forgot item 1."
        assert "Anna" not in await say(app, "/memory")
        assert "no item 7" in await say(app, "/memory forget 7")
        await say(app, "My order number is 5512")
        assert "all 2 things" in await say(app, "/memory forget all")
        assert "haven't told me your order number" in await say(app, "What is my order number?")
    finally:
        await app.stop()


async def test_follow_ups_are_answered_in_the_language_they_are_asked_in(tmp_path: Path) -> None:
    app = await started(tmp_path)
    try:
        await say(app, "Mi número de pedido es 55321")
        assert await say(app, "¿Cuál es mi número de pedido?") == (
            f"Tu número de pedido es 55321 (me lo dijiste el {_today(app)})."
        )
        assert "Bestellnummer" in await say(app, "Wie ist meine Bestellnummer?")
    finally:
        await app.stop()


async def test_forgetme_drops_every_remembered_fact_and_summary_line(tmp_path: Path) -> None:
    app = await started(tmp_path)
    try:
        await say(app, "My name is Anna", chat_id="a")
        await say(app, "My name is Anna", chat_id="b")
        await say(app, "/forgetme", chat_id="a")
        rows = app.store.db.execute("select count(*) from memory_facts").fetchone()[0]
        assert rows == 0
    finally:
        await app.stop()


async def test_memory_off_keeps_nothing(tmp_path: Path) -> None:
    app = await started(tmp_path, config=NO_LIMITS + "[privacy]\nmemory = false\n")
    try:
        await say(app, "My name is Anna")
        assert app.store.db.execute("select count(*) from memory_facts").fetchone()[0] == 0
    finally:
        await app.stop()


def _today(app: BotApp) -> str:
    from bot.store import utc_now

    return utc_now()[:10]


async def test_what_did_i_just_tell_you_quotes_the_persons_previous_message_in_their_language(tmp_path: Path) -> None:
    app = await started(tmp_path)
    try:
        assert await say(app, "What did I just tell you?") == "You haven't told me anything else in this chat yet."
        await say(app, "I'm coming in on Tuesday.")
        assert await say(app, "What did I just tell you?") == 'You said: "I\'m coming in on Tuesday."'
        await say(app, "Voy el martes.", chat_id="es")
        assert await say(app, "¿Qué te acabo de decir?", chat_id="es") == 'Dijiste: "Voy el martes."'
        await say(app, "/reset")
        assert await say(app, "what did I say?") == "You haven't told me anything else in this chat yet."
    finally:
        await app.stop()
