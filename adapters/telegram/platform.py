"""Telegram's declaration (entry point `socialbot.platforms: telegram`): what the core knows of it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.messages import ConversationKey
from bot.platform import Adapter, PlatformContext, PlatformSpec

if TYPE_CHECKING:
    from bot.config import LoadedConfig


def create(context: PlatformContext) -> Adapter:
    from adapters.telegram.adapter import create_adapter

    return create_adapter(context)


def configured(config: LoadedConfig) -> bool:
    return config.secrets.telegram_bot_token is not None


def group_reply_mode(config: LoadedConfig) -> str:
    return config.settings.telegram.group_reply_mode


def message_link(conversation: ConversationKey, message_id: str) -> str:
    """Only supergroups (ids starting with -100) have links that work from any chat (`t.me/c/<id>/<message>`);
    elsewhere the staff message names the conversation instead."""
    if conversation.chat_id.startswith("-100") and message_id.isdigit():
        return f"https://t.me/c/{conversation.chat_id[4:]}/{message_id}"
    return ""


spec = PlatformSpec("telegram", create, configured, group_reply_mode=group_reply_mode, message_link=message_link)
