"""Bot API updates (recorded payloads) become IncomingMessages that say what Telegram said, and nothing more."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.telegram.convert import chat_ref, parse_update, to_incoming
from adapters.telegram.errors import MalformedUpdate
from bot.messages import Attachment, ConversationKey, IncomingMessage

PAYLOADS = Path(__file__).parent / "payloads"
BOT_USERNAME, BOT_ID = "social_test_bot", 7000001


def payload(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))


def convert(name: str) -> IncomingMessage | None:
    return to_incoming(parse_update(payload(name)), BOT_USERNAME, BOT_ID)


def test_private_text_is_a_direct_message_in_the_users_chat() -> None:
    message = convert("private_text")
    assert message is not None
    assert message.conversation == ConversationKey("telegram", "52331234", "")
    assert message.text == "Hi! When are you open on Sundays? 🙂"
    assert message.is_direct and not message.mentions_bot and not message.replies_to_bot
    assert (message.author.user_id, message.author.display_name, message.author.username) == (
        "52331234",
        "Alice Martin",
        "alice_m",
    )
    assert message.platform_message_id == "17"
    assert message.sent_at.timestamp() == 1732350000


def test_group_mention_entity_counts_in_utf16_and_ignores_case() -> None:
    message = convert("group_mention")
    assert message is not None
    assert message.mentions_bot and not message.is_direct
    assert message.conversation.chat_id == "-1001987654321"


def test_group_message_mentioning_someone_else_is_not_addressed() -> None:
    message = convert("group_plain")
    assert message is not None
    assert not message.is_addressed_to_bot


def test_reply_to_the_bot_is_flagged_with_the_replied_message_id() -> None:
    message = convert("reply_to_bot")
    assert message is not None
    assert message.replies_to_bot and not message.mentions_bot
    assert message.reply_to_message_id == "4412"


def test_forum_topic_message_is_its_own_conversation_and_not_a_reply() -> None:
    message = convert("forum_topic")
    assert message is not None
    assert message.conversation == ConversationKey("telegram", "-1002223334445", "881")
    # Telegram links topic messages to the topic's creation message; that is not a reply to the bot.
    assert not message.replies_to_bot and message.reply_to_message_id == ""


def test_edited_message_keeps_the_original_id_and_is_marked_as_edit() -> None:
    message = convert("edited_message")
    assert message is not None
    assert message.is_edit and message.platform_message_id == "17"
    assert message.text == "Hi! When are you open on Saturdays?"
    assert message.sent_at.timestamp() == 1732350123


def test_sticker_has_no_text_and_lists_the_sticker() -> None:
    message = convert("sticker")
    assert message is not None
    assert message.text == ""
    assert message.attachments == (Attachment("sticker", "CAACAgIAAxkBAAEBsticker", "😂"),)


def test_photo_caption_is_the_text_and_the_largest_photo_is_attached() -> None:
    message = convert("photo_caption")
    assert message is not None
    assert message.text == "@social_test_bot is this cake gluten free?"
    assert message.mentions_bot
    assert message.attachments == (Attachment("photo", "AgAClarge"),)


def test_service_message_about_new_members_is_not_a_message() -> None:
    assert convert("new_chat_members") is None


def test_update_that_is_not_a_message_is_ignored() -> None:
    assert convert("my_chat_member") is None


def test_message_from_another_bot_is_marked_as_from_a_bot() -> None:
    message = convert("from_bot")
    assert message is not None
    assert message.author.is_bot and message.author.user_id == "5550001"


def test_command_addressed_to_this_bot_by_name_counts_as_a_mention() -> None:
    message = convert("group_command")
    assert message is not None
    assert message.text == "/help@social_test_bot" and message.mentions_bot


def test_anonymous_group_admin_speaks_as_the_group_and_is_an_admin() -> None:
    message = convert("anonymous_admin")
    assert message is not None
    assert message.author.user_id == "chat-1001987654321"
    assert message.author_is_admin and not message.author.is_bot


def test_malformed_update_raises_naming_its_id() -> None:
    with pytest.raises(MalformedUpdate, match="update 912345013"):
        convert("malformed")


@pytest.mark.parametrize("raw", [None, [], "text", {"message": {}}, {"update_id": "7"}, {"update_id": True}])
def test_payloads_that_are_not_updates_raise_malformed_update(raw: object) -> None:
    with pytest.raises(MalformedUpdate):
        parse_update(raw)


def test_chat_ref_keeps_channel_usernames_and_converts_numbers() -> None:
    assert chat_ref("-1001987654321") == -1001987654321
    assert chat_ref("@bakery_news") == "@bakery_news"


@given(st.text(max_size=300))
def test_any_text_converts_without_crashing(text: str) -> None:
    raw = payload("private_text")
    raw["message"]["text"] = text
    message = to_incoming(parse_update(raw), BOT_USERNAME, BOT_ID)
    if text:
        assert message is not None and message.text == text
    else:
        assert message is None
