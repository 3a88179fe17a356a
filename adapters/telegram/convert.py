"""Pure translation of Bot API updates into `IncomingMessage`s: no network, no state, no decisions.

The adapter receives raw JSON (from getUpdates or a webhook), parses each update on its own with
`parse_update`, and hands the result to `to_incoming`. Whether the bot answers is the manager's call;
this module only reports what the platform says: a private chat, a mention, a reply to the bot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from telegram import Chat, Message, MessageEntity, Update, User

from adapters.telegram.errors import MalformedUpdate
from bot.messages import Attachment, Author, ConversationKey, IncomingMessage

PLATFORM = "telegram"
# The update types the adapter asks Telegram for; everything else is not a message to store.
ALLOWED_UPDATES = ("message", "edited_message", "channel_post", "edited_channel_post")


def parse_update(raw: object) -> Update:
    """`raw` (one JSON object of a getUpdates result or a webhook body) as a PTB `Update`.

    Raises `MalformedUpdate` naming the update id when it is not a well-formed update, so one bad
    payload is skipped instead of stopping the bot.
    """
    if not isinstance(raw, Mapping):
        raise MalformedUpdate("?", f"expected a JSON object, got {type(raw).__name__}")
    update_id = raw.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise MalformedUpdate(update_id, "missing or non-integer update_id")
    try:
        update = Update.de_json(dict(raw), None)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedUpdate(update_id, f"unreadable payload ({type(exc).__name__}: {exc})") from None
    return update


def update_message(update: Update) -> tuple[Message, bool] | None:
    """The message an update carries and whether it is an edit; None for other updates."""
    if update.message is not None:
        return update.message, False
    if update.channel_post is not None:
        return update.channel_post, False
    if update.edited_message is not None:
        return update.edited_message, True
    if update.edited_channel_post is not None:
        return update.edited_channel_post, True
    return None


def conversation_key(message: Message) -> ConversationKey:
    """The conversation of `message`: its chat, and its forum topic when it was sent inside one.

    Outside forums, `message_thread_id` names reply threads, which are not separate conversations.
    """
    thread = str(message.message_thread_id) if message.is_topic_message and message.message_thread_id else ""
    return ConversationKey(PLATFORM, str(message.chat.id), thread)


def to_incoming(update: Update, bot_username: str, bot_id: int) -> IncomingMessage | None:
    """The `IncomingMessage` for a message update, or None when there is nothing to store.

    None covers service messages (members joining, pins, topic changes...), empty messages and update
    types that are not messages. Raises `MalformedUpdate` when a message lacks what every message has.
    """
    found = update_message(update)
    if found is None:
        return None
    message, is_edit = found
    text = message.text or message.caption or ""
    attachments = _attachments(message)
    if not text and not attachments:
        return None
    author, is_anonymous_admin = _author(message)
    if author is None:
        raise MalformedUpdate(update.update_id, "message has neither a sender nor a sender chat")
    reply_to, replies_to_bot = _reply(message, bot_id)
    return IncomingMessage(
        conversation=conversation_key(message),
        author=author,
        text=text,
        platform_message_id=str(message.message_id),
        reply_to_message_id=reply_to,
        mentions_bot=_mentions_bot(message, bot_username, bot_id),
        replies_to_bot=replies_to_bot,
        is_direct=message.chat.type == Chat.PRIVATE,
        is_edit=is_edit,
        attachments=attachments,
        sent_at=(message.edit_date if is_edit and message.edit_date else message.date),
        author_is_admin=is_anonymous_admin,
    )


def chat_ref(chat_id: str) -> int | str:
    """A stored chat id as the Bot API wants it: a number, or an `@channelusername` kept as text."""
    try:
        return int(chat_id)
    except ValueError:
        return chat_id


def is_group(message: Message) -> bool:
    return message.chat.type in (Chat.GROUP, Chat.SUPERGROUP)


def _author(message: Message) -> tuple[Author | None, bool]:
    """Who wrote `message`, and whether it is a group admin posting anonymously (as the group itself)."""
    sender_chat = message.sender_chat
    if sender_chat is not None:
        name = sender_chat.title or sender_chat.username or str(sender_chat.id)
        author = Author(f"chat{sender_chat.id}", display_name=name, username=sender_chat.username or "")
        return author, sender_chat.id == message.chat.id
    user = message.from_user
    if user is None:
        return None, False
    return Author(str(user.id), display_name=user.full_name, username=user.username or "", is_bot=user.is_bot), False


def _reply(message: Message, bot_id: int) -> tuple[str, bool]:
    replied = message.reply_to_message
    # In forum topics every message "replies" to the topic's creation message; that is not a reply.
    if replied is None or replied.forum_topic_created is not None:
        return "", False
    user: User | None = replied.from_user
    return str(replied.message_id), user is not None and user.id == bot_id


def _mentions_bot(message: Message, bot_username: str, bot_id: int) -> bool:
    handle = f"@{bot_username}".lower() if bot_username else ""
    for entity, value in _entities(message).items():
        if entity.type == MessageEntity.MENTION and handle and value.lower() == handle:
            return True
        if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None and entity.user.id == bot_id:
            return True
        if entity.type == MessageEntity.BOT_COMMAND and handle and value.lower().endswith(handle):
            return True
    return False


def _entities(message: Message) -> dict[MessageEntity, str]:
    # Offsets count UTF-16 code units; PTB's parse_* helpers do that arithmetic.
    if message.text is not None:
        return message.parse_entities()
    if message.caption is not None:
        return message.parse_caption_entities()
    return {}


def _attachments(message: Message) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    if message.photo:
        largest = max(message.photo, key=lambda size: size.width * size.height)
        found.append(Attachment("photo", largest.file_id))
    if message.sticker is not None:
        found.append(Attachment("sticker", message.sticker.file_id, message.sticker.emoji or ""))
    named: list[tuple[str, Any]] = [
        ("document", message.document),
        ("video", message.video),
        ("animation", message.animation),
        ("audio", message.audio),
        ("voice", message.voice),
        ("video_note", message.video_note),
    ]
    for kind, media in named:
        if media is not None and not (kind == "document" and message.animation is not None):
            found.append(Attachment(kind, media.file_id, getattr(media, "file_name", None) or ""))
    return tuple(found)
