"""Auto-replies, admin commands, per-chat settings, mutes and rate limits, through the conversation manager."""

from __future__ import annotations

import asyncio
import time

from bot import audit
from bot.app import BotApp
from bot.engine.fake import ScriptedEngine
from bot.rules.model import Rule
from tests.bot.rules.conftest import rules_feature
from tests.support import incoming


async def say(app: BotApp, text: str, **kwargs: object) -> list[str]:
    return [reply.text for reply in await app.manager.handle(incoming(text, **kwargs))]  # type: ignore[arg-type]


async def admin(app: BotApp, text: str, **kwargs: object) -> str:
    replies = await say(app, text, is_admin=True, **kwargs)
    assert len(replies) == 1, replies
    return replies[0]


async def test_admin_adds_a_keyword_rule_in_chat_and_it_answers_before_the_model(
    rules_app: BotApp, scripted_engine: ScriptedEngine
) -> None:
    added = await admin(rules_app, '/rules add keyword "opening hours" -> We\'re open 9-17 Mon-Fri, {user}.')
    assert added.startswith("Added rule #1")
    assert await say(rules_app, "what are your Opening Hours?") == ["We're open 9-17 Mon-Fri, Alice."]
    assert scripted_engine.requests == []
    conversation = rules_app.store.conversation_id(incoming("x").conversation)
    assert rules_app.store.messages_for(conversation)[-1].source == "rule:1"


async def test_member_may_not_manage_rules_and_the_refusal_is_logged(rules_app: BotApp, caplog: object) -> None:
    import logging

    caplog.set_level(logging.WARNING)  # type: ignore[attr-defined]
    assert await say(rules_app, "/rules add keyword hi -> hello") == ["Only admins can use /rules."]
    assert await say(rules_app, "/settings reply silent") == ["Only admins can use /settings."]
    assert await say(rules_app, "/mute @bob") == ["Only admins can use /mute."]
    assert rules_feature(rules_app).repository.all() == []  # type: ignore[union-attr]
    assert "non-admin user-1 refused /rules" in caplog.text  # type: ignore[attr-defined]


async def test_regex_rule_with_named_group_and_every_admin_action_is_audited(rules_app: BotApp) -> None:
    await admin(rules_app, r"/rules add regex ^order\s+(?P<id>\d+) -> Order {id}: check your email.")
    assert await say(rules_app, "order 5521 where is it") == ["Order 5521: check your email."]
    assert (await admin(rules_app, "/rules disable 1")) == "Rule #1 disabled."
    await admin(rules_app, "/rules edit 1 priority=4 -> Order {1} is on its way.")
    await admin(rules_app, "/rules enable 1")
    assert await say(rules_app, "Order 77") == ["Order 77 is on its way."]
    assert await admin(rules_app, "/rules delete 1") == "Deleted rule #1."
    actions = [entry.action for entry in audit.recent(rules_app.store)]
    assert actions == ["rules.delete", "rules.edit", "rules.edit", "rules.edit", "rules.add"]
    edit = audit.recent(rules_app.store, action_prefix="rules.edit")[1]
    assert edit.actor == "console:user-1"
    assert edit.before["priority"] == 0 and edit.after["priority"] == 4


async def test_hostile_regex_is_refused_or_harmless_and_other_chats_keep_flowing(rules_app: BotApp) -> None:
    refused = await admin(rules_app, r"/rules add regex (a)\1 -> x")
    assert refused.startswith("Not done: this regex can't be used")
    await admin(rules_app, "/rules add regex (a+)+$ -> matched")
    started = time.perf_counter()
    hostile, other = await asyncio.gather(
        say(rules_app, "a" * 3900 + "!", chat_id="chat-1"), say(rules_app, "hello", chat_id="chat-2")
    )
    assert time.perf_counter() - started < 2.0
    assert hostile == ["ok"] and other == ["ok"]  # no rule matched: the model answered both


async def test_test_command_says_which_rule_would_answer_and_what_it_would_say(rules_app: BotApp) -> None:
    await admin(rules_app, '/rules add keyword "refund" -> Refunds take 5 days, {user}.')
    await admin(rules_app, "/rules add keyword priority=9 refund money -> Money first.")
    result = await admin(rules_app, "/rules test I want a refund")
    assert result == "Rule #2 would answer: Money first.\nAlso matching: #1"
    assert (await admin(rules_app, "/rules test nothing here")).startswith("No rule would answer")
    listing = await admin(rules_app, "/rules list")
    assert listing.splitlines()[0].startswith("#2 [on] keyword")
    assert "Rule #1" in await admin(rules_app, "/rules show 1")


async def test_cooldown_keeps_a_rule_quiet_in_that_chat_only(rules_app: BotApp) -> None:
    await admin(rules_app, "/rules add keyword cooldown=1h scope=platform price -> See the price list.", user_id="root")
    assert await say(rules_app, "price?", chat_id="a") == ["See the price list."]
    assert await say(rules_app, "price??", chat_id="a") == ["ok"]  # cooling down: the model answers instead
    assert await say(rules_app, "price?", chat_id="b") == ["See the price list."]


async def test_rules_scoped_to_a_chat_and_chat_admins_cannot_touch_wider_rules(rules_app: BotApp) -> None:
    await admin(rules_app, "/rules add keyword hi -> hello chat-1", chat_id="chat-1")
    assert await say(rules_app, "hi", chat_id="chat-2") == ["ok"]
    wider = await admin(rules_app, "/rules add keyword scope=all hi -> hello all", chat_id="chat-2")
    assert wider.startswith("Not done: only global admins")
    root = await say(rules_app, "/rules add keyword scope=all bye -> bye all", user_id="root", is_admin=True)
    assert root[0].startswith("Added rule #2 (everywhere)")
    assert (await admin(rules_app, "/rules delete 2")).startswith("Not done: rule #2 covers more than this chat")


async def test_prompt_response_asks_the_model_with_the_rule_prompt(
    rules_app: BotApp, scripted_engine: ScriptedEngine
) -> None:
    assert (await admin(rules_app, "/rules add keyword refund -> prompt:nope")).startswith("Not done: there is no")
    await admin(rules_app, "/rules add keyword refund -> prompt:rule_answer")
    scripted_engine.enqueue("Refunds are possible within 14 days.")
    assert await say(rules_app, "can I get a refund?") == ["Refunds are possible within 14 days."]
    user_turn = scripted_engine.requests[-1].messages[-1].content
    assert "can I get a refund?" in user_turn and "Alice" in user_turn


async def test_rules_answer_group_messages_without_mention_but_not_in_silent_chats(rules_app: BotApp) -> None:
    await admin(rules_app, "/rules add keyword wifi -> The password is on the wall.")
    assert await say(rules_app, "what's the wifi?", is_direct=False) == ["The password is on the wall."]
    await admin(rules_app, "/settings reply silent", is_direct=False)
    assert await say(rules_app, "what's the wifi?", is_direct=False) == []
    assert await say(rules_app, "@bot hello", is_direct=False, mentions_bot=True) == []


async def test_always_mode_answers_without_mention_and_default_does_not(
    rules_app: BotApp, scripted_engine: ScriptedEngine
) -> None:
    assert await say(rules_app, "just chatting", is_direct=False) == []
    assert (await admin(rules_app, "/settings reply always", is_direct=False)).startswith("Done")
    assert await say(rules_app, "just chatting", is_direct=False) == ["ok"]
    await admin(rules_app, "/settings reply default", is_direct=False)
    assert await say(rules_app, "just chatting", is_direct=False) == []


async def test_persona_strictness_and_language_are_per_chat(rules_app: BotApp, scripted_engine: ScriptedEngine) -> None:
    assert (await admin(rules_app, "/settings persona nothing_here")).startswith("There is no persona prompt")
    assert (await admin(rules_app, "/settings persona about")).startswith("There is no persona prompt")
    assert (await admin(rules_app, "/settings persona pirate")).startswith("Done")
    assert (await admin(rules_app, "/settings strictness strict")).startswith("Done")
    await say(rules_app, "hello")
    assert scripted_engine.requests[-1].messages[0].content == "You are socialbot, a pirate. Arr."
    await say(rules_app, "hello", chat_id="other")
    assert scripted_engine.requests[-1].messages[0].content.startswith("You are socialbot, the assistant")
    chat_settings = rules_feature(rules_app).chat_settings
    assert chat_settings is not None
    message = incoming("x")
    assert chat_settings.persona_for(message) == "pirate"
    assert chat_settings.strictness(message) == "strict"
    assert chat_settings.persona_for(incoming("x", chat_id="other")) == "persona"
    shown = await admin(rules_app, "/settings")
    assert "persona: pirate" in shown and "strictness: strict" in shown


async def test_burst_of_100_messages_gets_exactly_one_notice_and_nothing_beyond_capacity(
    rules_app: BotApp, scripted_engine: ScriptedEngine
) -> None:
    await admin(rules_app, "/settings language es")
    replies = [await say(rules_app, f"message {n}") for n in range(100)]
    answered = [reply for reply in replies if reply == ["ok"]]
    notices = [reply for reply in replies if reply and reply != ["ok"]]
    assert len(answered) == 5  # user_capacity
    assert len(scripted_engine.requests) == 5
    assert notices == [["Alice, envías mensajes más rápido de lo que puedo responder. Responderé en breve."]]
    assert replies.index(notices[0]) == 5
    conversation = rules_app.store.conversation_id(incoming("x").conversation)
    stored = [m for m in rules_app.store.messages_for(conversation) if m.role == "user"]
    assert len(stored) == 101  # every message is kept
    assert await say(rules_app, "admins are not limited", is_admin=True) == ["ok"]


async def test_muted_user_is_stored_but_never_answered_until_unmuted(rules_app: BotApp) -> None:
    await say(rules_app, "hi, I'm bob", user_id="bob-id", display_name="Bob")
    assert (await admin(rules_app, "/mute @bob 10")).startswith("Muted @bob here for 10 minutes")
    assert await say(rules_app, "hello?", user_id="bob-id", display_name="Bob") == []
    assert await say(rules_app, "hello?", user_id="bob-id", display_name="Bob", chat_id="elsewhere") == ["ok"]
    assert "bob-id" in await admin(rules_app, "/mute")
    assert await admin(rules_app, "/unmute @bob") == "Unmuted @bob."
    assert await say(rules_app, "hello?", user_id="bob-id", display_name="Bob") == ["ok"]
    assert [e.action for e in audit.recent(rules_app.store, action_prefix="mutes.")] == ["mutes.remove", "mutes.add"]


async def test_rules_changed_by_another_process_are_picked_up(rules_app: BotApp) -> None:
    repository = rules_feature(rules_app).repository
    assert repository is not None
    assert await say(rules_app, "parking?") == ["ok"]
    repository.add(Rule("keyword", ("parking",), "Parking is behind the shop."), "cli")
    assert await say(rules_app, "parking?") == ["Parking is behind the shop."]
