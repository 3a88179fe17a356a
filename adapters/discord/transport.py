"""`DiscordTransport`: what the core's dispatcher needs from Discord, through discord.py's client.

Discord deduplicates a repeated message with the same nonce when `enforce_nonce` is set (discord.py sets
it whenever a nonce is given), so `dedupes_sends` is True: an interrupted reply is simply sent again with
the same nonces. Mentions in the bot's text can never ping anyone.
"""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import timedelta
from typing import Any

import discord

from adapters.discord.convert import MAX_MESSAGE_LENGTH, PLATFORM, channel_id_for
from adapters.discord.errors import delivery_error
from bot.delivery import DeliveryError
from bot.dispatch.transport import PostRequest, TransportCapabilities
from bot.messages import ConversationKey, PlatformAction

log = logging.getLogger(__name__)

# Discord keeps a typing indicator for about 10 seconds; refresh it before it fades.
TYPING_REFRESH_S = 8.0
MAX_TIMEOUT = timedelta(days=28)  # the longest timeout Discord accepts


def allowed_mentions(ping_replied_user: bool = False) -> discord.AllowedMentions:
    """Mentions that never notify @everyone/@here, a role or a user; only the user replied to, when asked."""
    return discord.AllowedMentions(everyone=False, users=False, roles=False, replied_user=ping_replied_user)


class DiscordTransport:
    """Posts, edits, deletes, shows typing and moderates on Discord; errors become `DeliveryError`."""

    platform = PLATFORM
    capabilities = TransportCapabilities(
        max_text_length=MAX_MESSAGE_LENGTH,
        can_edit=True,
        can_show_typing=True,
        typing_refresh_s=TYPING_REFRESH_S,
        dedupes_sends=True,
    )

    def __init__(self, client: discord.Client) -> None:
        self.client = client

    async def post(self, request: PostRequest) -> str:
        """Post one chunk; the first chunk of a reply references the message it answers."""
        channel = self.client.get_partial_messageable(channel_id_for(request.conversation))
        options: dict[str, Any] = {"nonce": request.dedupe_key} if request.dedupe_key else {}
        if request.chunk_start == 0 and request.reply_to_message_id.isdigit():
            options["reference"] = discord.MessageReference(
                message_id=int(request.reply_to_message_id), channel_id=channel.id, fail_if_not_exists=False
            )
        if request.document is not None:  # an attachment (a data export; a PNG chart shows inline as an image)
            options["file"] = discord.File(io.BytesIO(request.document.data), filename=request.document.filename)
        try:
            sent = await channel.send(
                request.text, allowed_mentions=allowed_mentions(ping_replied_user="reference" in options), **options
            )
        except Exception as exc:
            raise delivery_error(exc, f"message to {request.conversation.session_id}") from None
        return str(sent.id)

    async def edit(self, conversation: ConversationKey, message_id: str, text: str) -> None:
        channel = self.client.get_partial_messageable(channel_id_for(conversation))
        try:
            await channel.get_partial_message(int(message_id)).edit(content=text, allowed_mentions=allowed_mentions())
        except Exception as exc:
            raise delivery_error(exc, f"edit in {conversation.session_id}") from None

    async def delete(self, conversation: ConversationKey, message_id: str) -> None:
        channel = self.client.get_partial_messageable(channel_id_for(conversation))
        try:
            await channel.get_partial_message(int(message_id)).delete()
        except Exception as exc:
            raise delivery_error(exc, f"delete in {conversation.session_id}") from None

    async def typing(self, conversation: ConversationKey) -> None:
        try:
            async with asyncio.timeout(5):
                await self.client.http.send_typing(channel_id_for(conversation))
        except (TimeoutError, discord.HTTPException, OSError) as exc:
            log.debug("typing indicator failed in %s: %s", conversation.session_id, type(exc).__name__)

    async def perform(self, action: PlatformAction) -> None:
        """Delete a message, time a member out, or lift a timeout; raises `DeliveryError` when refused."""
        what = f"{action.kind} in {action.conversation.session_id}"
        try:
            if action.kind == "delete_message":
                await self.client.http.delete_message(
                    channel_id_for(action.conversation), int(action.message_id), reason=action.reason or None
                )
            elif action.kind in ("timeout_user", "lift_timeout"):
                member = await self._member(action)
                until = (
                    min(timedelta(seconds=action.duration_s), MAX_TIMEOUT) if action.kind == "timeout_user" else None
                )
                await member.timeout(until, reason=action.reason or None)
            else:
                raise DeliveryError(f"unknown platform action {action.kind!r}", retryable=False)
        except DeliveryError:
            raise
        except ValueError:
            raise DeliveryError(f"{what}: ids must be Discord snowflakes", retryable=False) from None
        except Exception as exc:
            raise delivery_error(exc, what) from None

    async def _member(self, action: PlatformAction) -> discord.Member:
        channel_id = int(action.conversation.chat_id)  # for threads, chat_id is the parent guild channel
        channel = self.client.get_channel(channel_id) or await self.client.fetch_channel(channel_id)
        guild = getattr(channel, "guild", None)
        if not isinstance(guild, discord.Guild):
            raise DeliveryError(
                f"{action.kind}: {action.conversation.session_id} is not a guild channel", retryable=False
            )
        user_id = int(action.user_id)
        return guild.get_member(user_id) or await guild.fetch_member(user_id)


class InteractionSurface:
    """The answer to one slash command: posted as follow-ups of the deferred interaction (ephemeral where
    the bot may not speak); when there is no answer, the "thinking…" placeholder is deleted."""

    def __init__(self, interaction: discord.Interaction, private: bool) -> None:
        self.interaction = interaction
        self.private = private

    async def post(self, text: str) -> str:
        try:
            sent = await self.interaction.followup.send(
                text, ephemeral=self.private, wait=True, allowed_mentions=allowed_mentions()
            )
        except Exception as exc:
            raise delivery_error(exc, f"answer to /{self.interaction.id}") from None
        return str(sent.id)

    async def finish(self, answered: bool) -> None:
        if answered:
            return
        try:
            await self.interaction.delete_original_response()
        except discord.HTTPException as exc:
            log.debug("could not remove the placeholder of /%s: %s", self.interaction.id, exc.status)
