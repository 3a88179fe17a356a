"""Conversations in the languages beyond the first seven, and short English questions, through the whole bot:
small talk and fixed texts come back in the person's language, a model reply in the wrong one falls back to the
localized fixed text, and a language without a catalogue gets English."""

from __future__ import annotations

import pytest

from bot.app import BotApp
from bot.engine.fake import ScriptedEngine
from bot.language import detect_language
from bot.prompts import PromptLibrary
from tests.bot.policy.test_turn_policy import stored_reply
from tests.support import incoming

GREETINGS = {
    "こんにちは、お元気ですか？": "ja",
    "안녕하세요!": "ko",
    "السلام عليكم، كيف حالك؟": "ar",
    "Привет, как дела?": "ru",
    "नमस्ते, आप कैसे हैं?": "hi",
    "Goedemorgen!": "nl",
    "Merhaba, nasılsınız?": "tr",
    "Dzień dobry, co słychać?": "pl",
}


@pytest.mark.parametrize(("text", "language"), GREETINGS.items())
async def test_small_talk_in_the_new_languages_is_answered_in_that_language(
    policy_app: BotApp, scripted_engine: ScriptedEngine, text: str, language: str
) -> None:
    replies = await policy_app.manager.handle(incoming(text, chat_id=language))
    assert stored_reply(policy_app, replies[0])[0] == "policy:small_talk"
    assert detect_language(replies[0].text).code == language, replies[0].text
    assert scripted_engine.requests == []


@pytest.mark.parametrize("language", sorted(set(GREETINGS.values())))
async def test_after_a_greeting_help_and_reset_come_in_the_persons_language(policy_app: BotApp, language: str) -> None:
    greeting = next(text for text, code in GREETINGS.items() if code == language)
    await policy_app.manager.handle(incoming(greeting, chat_id=language))
    helped = await policy_app.manager.handle(incoming("/help", chat_id=language))
    library = PromptLibrary()
    assert helped[0].text.startswith(library.render_in(language, "help", bot_name="Sam", commands=[]).strip())
    reset = await policy_app.manager.handle(incoming("/reset", chat_id=language))
    assert reset[0].text == library.render_in(language, "reset")


@pytest.mark.parametrize(
    "text",
    ["do you sell vegan croissants?", "can I order a baguette?", "is the gnocchi vegan?", "any churros left today?"],
)
async def test_short_english_business_questions_are_declined_in_english(policy_app: BotApp, text: str) -> None:
    replies = await policy_app.manager.handle(incoming(text, chat_id=text))
    assert replies[0].text == PromptLibrary().render_in("en", "kb_decline")


async def test_a_model_reply_in_the_wrong_language_falls_back_to_the_persons_fixed_text(
    policy_app: BotApp, scripted_engine: ScriptedEngine
) -> None:
    scripted_engine.enqueue("Sure, here is a short poem about the sea for you.", "The sea is blue and wide and deep.")
    replies = await policy_app.manager.handle(incoming("海についての短い詩を書いてください", chat_id="ja-poem"))
    assert replies[0].text == PromptLibrary().render_in("ja", "cannot_help", community_name="the Corner Shop")
    source, details = stored_reply(policy_app, replies[0])
    assert source == "policy:cannot_help" and details["rejected"] == ["wrong_language", "wrong_language"]


async def test_a_language_without_a_catalogue_is_answered_in_english(policy_app: BotApp) -> None:
    replies = await policy_app.manager.handle(incoming("Γεια σας, πόσο κοστίζει η παράδοση;", chat_id="el"))
    assert detect_language(replies[0].text).code == "en", replies[0].text
