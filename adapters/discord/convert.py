"""Pure translation between discord.py objects and socialbot's normalized messages.

Nothing here talks to Discord: every function takes objects discord.py already parsed (messages, members,
interactions) plus the adapter's `DiscordAccess`, and returns socialbot values. Deciding *whether* to answer
stays with the manager; these functions only say what the platform says (a DM, a mention, a reply to the
bot, an admin) and where the operator allowed the bot to speak.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import discord

from adapters.discord.settings import DiscordSection
from bot.config import LoadedConfig
from bot.messages import Attachment, Author, ConversationKey, IncomingMessage

PLATFORM = "discord"
MAX_MESSAGE_LENGTH = 2000
# Messages people write; joins, pins, boosts and other system messages are not conversation.
CONVERSATION_MESSAGE_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})
USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")
CHANNEL_MENTION = re.compile(r"<#(\d+)>")


@dataclass(frozen=True)
class DiscordAccess:
    """Operator settings that shape translation: who counts as admin and where the bot may speak."""

    admin_role: str = ""
    admin_user_ids: frozenset[str] = frozenset()
    allowed_channels: Mapping[int, frozenset[int]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: LoadedConfig) -> DiscordAccess:
        discord_settings = config.section(DiscordSection)
        prefix = f"{PLATFORM}:"
        admins = frozenset(
            entry[len(prefix) :] for entry in config.settings.bot.admin_user_ids if entry.startswith(prefix)
        )
        allowed = {int(guild): frozenset(channels) for guild, channels in discord_settings.allowed_channels.items()}
        return cls(discord_settings.admin_role, admins, allowed)


def conversation_key(channel: object) -> ConversationKey:
    """A thread is its own conversation inside its parent channel; any other channel is one conversation."""
    if isinstance(channel, discord.Thread):
        return ConversationKey(PLATFORM, str(channel.parent_id), str(channel.id))
    channel_id = getattr(channel, "id", None)
    if channel_id is None:
        raise ValueError("channel has no id")
    return ConversationKey(PLATFORM, str(channel_id))


def channel_id_for(key: ConversationKey) -> int:
    """The Discord channel to post into for a conversation: the thread when there is one."""
    return int(key.thread_id or key.chat_id)


def may_speak(access: DiscordAccess, guild_id: int | None, channel: object) -> bool:
    """True in DMs, and in guild channels (or threads of channels) the operator allowed for that guild."""
    if guild_id is None:
        return True
    allowed = access.allowed_channels.get(guild_id)
    if not allowed:
        return True
    if getattr(channel, "id", None) in allowed:
        return True
    return isinstance(channel, discord.Thread) and channel.parent_id in allowed


def is_admin(access: DiscordAccess, user: discord.abc.User, permissions: discord.Permissions | None = None) -> bool:
    """Manage Server (or Administrator), the configured admin role, or a configured `discord:<id>` admin.

    `permissions` are the member's resolved permissions when Discord sent them (interactions); otherwise
    the member's guild permissions are computed from the cached guild roles.
    """
    if str(user.id) in access.admin_user_ids:
        return True
    if not isinstance(user, discord.Member):
        return False
    resolved = permissions if permissions is not None and permissions.value else user.guild_permissions
    if resolved.manage_guild or resolved.administrator:
        return True
    if access.admin_role:
        return any(access.admin_role in (role.name, str(role.id)) for role in user.roles)
    return False


def author_of(user: discord.abc.User) -> Author:
    return Author(
        user_id=str(user.id),
        display_name=user.display_name,
        username=user.name,
        is_bot=user.bot or user.system,
    )


def readable_text(message: discord.Message, bot_user_id: int) -> str:
    """The message text with the bot's own mention removed and other mentions turned into names."""
    text = re.sub(rf"<@!?{bot_user_id}>", "", message.content)
    users = {str(user.id): user.display_name for user in message.mentions}
    roles = {str(role.id): role.name for role in message.role_mentions}
    guild = message.guild

    def user_name(match: re.Match[str]) -> str:
        return "@" + users.get(match.group(1), "someone")

    def role_name(match: re.Match[str]) -> str:
        return "@" + roles.get(match.group(1), "role")

    def channel_name(match: re.Match[str]) -> str:
        found = guild.get_channel_or_thread(int(match.group(1))) if guild else None
        return "#" + (found.name if found is not None else "channel")

    text = USER_MENTION.sub(user_name, text)
    text = ROLE_MENTION.sub(role_name, text)
    text = CHANNEL_MENTION.sub(channel_name, text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def replied_message_author_id(message: discord.Message) -> int | None:
    reference = message.reference
    if reference is None:
        return None
    resolved = reference.resolved
    if isinstance(resolved, discord.Message):
        return resolved.author.id
    return None


def to_incoming(
    message: discord.Message, bot_user_id: int, access: DiscordAccess, is_edit: bool = False
) -> IncomingMessage | None:
    """The normalized form of a Discord message, or None for the bot's own and system messages.

    Messages from other bots and webhooks are kept (the manager stores them as bot messages and never
    answers). In a guild channel where the bot may not speak the message is marked `may_reply=False`: stored
    and moderated, never answered. Whether an unmentioned message is answered (guild_reply_mode) is the
    manager's decision, not the adapter's.
    """
    if message.author.id == bot_user_id or message.type not in CONVERSATION_MESSAGE_TYPES:
        return None
    guild_id = message.guild.id if message.guild is not None else None
    is_direct = guild_id is None
    mentions_bot = any(user.id == bot_user_id for user in message.mentions)
    replies_to_bot = replied_message_author_id(message) == bot_user_id
    author = author_of(message.author)
    if message.webhook_id is not None:
        author = Author(author.user_id, author.display_name, author.username, is_bot=True)
    reference_id = message.reference.message_id if message.reference is not None else None
    return IncomingMessage(
        conversation=conversation_key(message.channel),
        author=author,
        text=readable_text(message, bot_user_id),
        platform_message_id=str(message.id),
        reply_to_message_id=str(reference_id) if reference_id else "",
        mentions_bot=mentions_bot,
        replies_to_bot=replies_to_bot,
        is_direct=is_direct,
        is_edit=is_edit,
        attachments=tuple(attachment_of(item) for item in message.attachments),
        sent_at=message.edited_at if is_edit and message.edited_at else message.created_at,
        author_is_admin=is_admin(access, message.author),
        may_reply=is_direct or may_speak(access, guild_id, message.channel),
    )


def attachment_of(attachment: discord.Attachment) -> Attachment:
    content_type = attachment.content_type or ""
    kind = "photo" if content_type.startswith("image/") else "document"
    return Attachment(kind=kind, file_id=str(attachment.id), name=attachment.filename)


def command_text(name: str, args: str) -> str:
    """The text a slash command stands for, as the manager parses commands: `/name args`."""
    args = args.strip()
    return f"/{name} {args}" if args else f"/{name}"


def interaction_to_incoming(
    interaction: discord.Interaction, name: str, args: str, access: DiscordAccess
) -> IncomingMessage:
    """A slash command as the message `/name args`, addressed to the bot, from the invoking user."""
    channel: object = interaction.channel
    if channel is None:
        channel = discord.Object(id=interaction.channel_id or 0)
    permissions = interaction.permissions if interaction.guild_id is not None else None
    return IncomingMessage(
        conversation=conversation_key(channel),
        author=author_of(interaction.user),
        text=command_text(name, args),
        platform_message_id=str(interaction.id),
        mentions_bot=interaction.guild_id is not None,
        is_direct=interaction.guild_id is None,
        sent_at=interaction.created_at,
        author_is_admin=is_admin(access, interaction.user, permissions),
    )
