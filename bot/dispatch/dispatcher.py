"""`Dispatcher`: the one way out. Every reply, notice, staff message and scheduled post leaves through it.

It cuts text to the platform's limit, posts each chunk through that platform's `Transport`, and records
the outcome on the stored message: sent (with the platform id), failed (owed again, resumed after the
last chunk that got through), or, where the platform cannot deduplicate a repeated send, "sending" before
the call so a crash inside it is known afterwards. It resends what is owed when a platform connects, and
turns a progress message into the final reply. Adapters never record a delivery themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator

from bot.delivery import DeliveryError, PlatformNotConnected
from bot.dispatch.settings import DeliverySection
from bot.dispatch.transport import PostRequest, ReplySurface, Transport
from bot.messages import ConversationKey, IncomingMessage, OutgoingMessage, PlatformAction
from bot.store import DELIVERED_CHARS, IGNORED, PENDING_SEND, RESENT_UNCONFIRMED, SENDING, Store
from bot.text_split import chunk_spans

log = logging.getLogger(__name__)

DEDUPE_KEY_LENGTH = 25  # Discord's limit for a string nonce; other platforms accept any length
REMEMBERED_DELETIONS = 2048


def dedupe_key(message_key: str, chunk_start: int) -> str:
    """A deterministic key per chunk, so a repeated send of the same chunk is recognised by the platform."""
    return hashlib.sha256(f"{message_key}#{chunk_start}".encode()).hexdigest()[:DEDUPE_KEY_LENGTH]


def message_key(message: OutgoingMessage) -> str:
    """The message's own idempotency key, else one derived from its stored row (stable across restarts)."""
    if message.idempotency_key:
        return message.idempotency_key
    if message.stored_message_id is not None:
        session = message.conversation.session_id
        return f"{session}:{message.reply_to_message_id}:{message.stored_message_id}"
    return ""


class Dispatcher:
    """Delivers outgoing messages through the connected platforms' transports and records the outcome."""

    def __init__(self, store: Store, settings: DeliverySection) -> None:
        self.store = store
        self.settings = settings
        self.transports: dict[str, Transport] = {}
        self._in_flight: set[int] = set()
        self._deleted: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._owed_locks: dict[str, asyncio.Lock] = {}
        self._undeduplicated: dict[str, asyncio.Lock] = {}

    # platforms ----------------------------------------------------------------------------------------

    def attach(self, transport: Transport) -> None:
        self.transports[transport.platform] = transport

    def detach(self, transport: Transport) -> None:
        if self.transports.get(transport.platform) is transport:
            del self.transports[transport.platform]

    def message_deleted(self, platform: str, platform_message_id: str) -> None:
        """A user deleted a message (ids unique on their platform): a reply to it not out yet is never posted."""
        self._deleted[(platform, platform_message_id)] = None
        while len(self._deleted) > REMEMBERED_DELETIONS:
            self._deleted.popitem(last=False)

    def was_deleted(self, platform: str, platform_message_id: str) -> bool:
        return (platform, platform_message_id) in self._deleted

    # sending ------------------------------------------------------------------------------------------

    def claim(self, messages: list[OutgoingMessage]) -> None:
        """These stored messages are about to be delivered by their turn: a flush of owed replies running
        meanwhile must leave them alone (`deliver` or `record_sent` releases them)."""
        self._in_flight.update(m.stored_message_id for m in messages if m.stored_message_id is not None)

    def release(self, message: OutgoingMessage) -> None:
        if message.stored_message_id is not None:
            self._in_flight.discard(message.stored_message_id)

    async def send(self, message: OutgoingMessage, surface: ReplySurface | None = None) -> list[str]:
        """Post `message` (the part not yet delivered) in chunks; returns the platform ids.

        Raises `DeliveryError` (with how far it got) when the platform refuses or is not connected. A
        stored message on a platform that cannot deduplicate is marked "sending" before each chunk.
        """
        platform = message.conversation.platform
        transport = self.transports.get(platform)
        if transport is None:
            raise PlatformNotConnected(platform)
        limit = transport.capabilities.max_text_length
        dedupes = transport.capabilities.dedupes_sends and surface is None
        key = message_key(message) if dedupes else ""
        stored_id = message.stored_message_id
        ids: list[str] = []
        delivered = message.delivered_chars
        spans = chunk_spans(message.text, limit, delivered)
        for index, (chunk, start, end) in enumerate(spans):
            request = PostRequest(
                message.conversation,
                chunk,
                message.reply_to_message_id,
                chunk_start=start,
                dedupe_key=dedupe_key(key, start) if key else "",
                document=message.document if start == 0 else None,
            )
            try:
                if stored_id is not None and not dedupes:
                    platform_id = await self._post_in_doubt(stored_id, request, transport, surface, end, index == 0)
                else:
                    platform_id = await (surface.post(chunk) if surface is not None else transport.post(request))
            except DeliveryError as exc:
                raise exc.after(delivered) from None
            ids.append(platform_id)
            delivered = end
        return ids

    async def _post_in_doubt(
        self,
        stored_id: int,
        request: PostRequest,
        transport: Transport,
        surface: ReplySurface | None,
        end: int,
        first: bool,
    ) -> str:
        """Post one chunk the platform cannot deduplicate, recorded "sending" before the call and posted
        (up to `end`) after it, one at a time per platform: a crash leaves at most one chunk in doubt."""
        lock = self._undeduplicated.setdefault(request.conversation.platform, asyncio.Lock())
        async with lock:
            self.store.mark_sending(stored_id, request.chunk_start)
            platform_id = await (surface.post(request.text) if surface is not None else transport.post(request))
            self.store.mark_posted(stored_id, end, platform_id if first else "")
        return platform_id

    async def deliver(
        self,
        message: OutgoingMessage,
        answering: IncomingMessage | None = None,
        surface: ReplySurface | None = None,
    ) -> bool:
        """Send a stored (or unstored) message and record the outcome; True when it went out.

        `answering` is the message this reply belongs to: a reply in a chat where the bot may not speak,
        or to a message deleted meanwhile, is dropped (recorded as ignored), never posted.
        """
        if answering is not None and message.conversation == answering.conversation and not answering.may_reply:
            self._drop(message, "the bot may not speak in this chat")
            return False
        if message.reply_to_message_id and self.was_deleted(message.conversation.platform, message.reply_to_message_id):
            self._drop(message, "the message it answers was deleted")
            return False
        stored_id = message.stored_message_id
        if stored_id is not None:
            self._in_flight.add(stored_id)
        try:
            ids = await self.send(message, surface)
        except DeliveryError as exc:
            self._record_failure(message, exc)
            return False
        finally:
            if stored_id is not None:
                self._in_flight.discard(stored_id)
        if stored_id is not None:
            self.store.mark_sent(stored_id, ids[0] if ids else "")
        return True

    async def perform(self, action: PlatformAction) -> None:
        transport = self.transports.get(action.conversation.platform)
        if transport is None:
            raise PlatformNotConnected(action.conversation.platform)
        await transport.perform(action)

    def record_sent(self, message: OutgoingMessage, platform_message_id: str) -> None:
        """A message went out another way (a progress message edited into it, a local print)."""
        self.release(message)
        if message.stored_message_id is not None:
            self.store.mark_sent(message.stored_message_id, platform_message_id)

    # owed replies -------------------------------------------------------------------------------------

    async def deliver_owed(self, platform: str) -> int:
        """Send, once and oldest first, the replies stored for `platform` and never confirmed sent.

        A reply whose send was attempted but not confirmed (a crash inside the call) on a platform that
        cannot deduplicate is resent once (`redelivery = "at_least_once"`) or marked unknown with one
        staff notice (`"at_most_once"`). Returns the number sent now.
        """
        lock = self._owed_locks.setdefault(platform, asyncio.Lock())
        sent = 0
        async with lock:
            transport = self.transports.get(platform)
            if transport is None:
                return 0
            owed = [stored for stored in self.store.unsent_messages(platform) if stored.id not in self._in_flight]
            if owed:
                log.info("%s: sending %d replies owed from before", platform, len(owed))
            for stored in owed:
                if stored.status == SENDING and not transport.capabilities.dedupes_sends:
                    details = stored.details or {}
                    if self.settings.redelivery == "at_most_once" or details.get(RESENT_UNCONFIRMED):
                        await self._give_up_unconfirmed(stored.id, stored.conversation_id)
                        continue
                    self.store.merge_details(stored.id, {RESENT_UNCONFIRMED: True})
                key = self.store.conversation_key(stored.conversation_id)
                delivered = int((stored.details or {}).get(DELIVERED_CHARS, 0))
                outgoing = OutgoingMessage(
                    key, stored.text, stored.reply_to_message_id, stored.id, delivered_chars=delivered
                )
                if await self.deliver(outgoing):
                    sent += 1
        return sent

    async def _give_up_unconfirmed(self, stored_id: int, conversation_id: int) -> None:
        key = self.store.conversation_key(conversation_id)
        reason = "the bot stopped while sending it: it may or may not have been posted; not re-sent"
        self.store.mark_unknown(stored_id, reason)
        text = f"Reply #{stored_id} to {key.session_id.rstrip(':')} {reason}. Please check the chat."
        log.warning("reply %d: %s", stored_id, reason, extra={"session": key.session_id})
        staff = ConversationKey(self.settings.staff_platform, self.settings.staff_chat_id)
        if staff.platform and staff.chat_id:
            staff_id = self.store.insert_message(
                self.store.conversation_id(staff), "assistant", text, PENDING_SEND, source="delivery:unknown"
            )
            if staff.platform in self.transports:
                await self.deliver(OutgoingMessage(staff, text, stored_message_id=staff_id, kind="staff"))

    # progress -----------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def typing(self, conversation: ConversationKey) -> AsyncIterator[None]:
        """Show "typing…" in `conversation` for as long as the block runs (where the platform can)."""
        transport = self.transports.get(conversation.platform)
        if transport is None or not transport.capabilities.can_show_typing:
            yield
            return
        done = asyncio.Event()

        async def keep_typing() -> None:
            while not done.is_set():
                await transport.typing(conversation)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(transport.capabilities.typing_refresh_s):
                        await done.wait()

        task = asyncio.create_task(keep_typing(), name=f"typing-{conversation.session_id}")
        try:
            yield
        finally:
            done.set()  # stopped by the event, so a typing request on its way is not cut off
            await asyncio.wait([task])

    def progress_for(self, incoming: IncomingMessage) -> ProgressReply | None:
        """A progress message for the answer to `incoming`, where its platform can edit messages."""
        transport = self.transports.get(incoming.platform)
        if transport is None or not transport.capabilities.can_edit:
            return None
        return ProgressReply(self, transport, incoming)

    # internals ----------------------------------------------------------------------------------------

    def _drop(self, message: OutgoingMessage, reason: str) -> None:
        log.info("reply not sent: %s", reason, extra={"session": message.conversation.session_id})
        self.release(message)
        if message.stored_message_id is not None:
            self.store.set_status(message.stored_message_id, IGNORED)

    def _record_failure(self, message: OutgoingMessage, exc: DeliveryError) -> None:
        log.warning(
            "delivery failed (%s): %s",
            "kept as owed" if exc.retryable else "the platform refused; kept as owed for a later try",
            exc,
            extra={"session": message.conversation.session_id},
        )
        if message.stored_message_id is None:
            return
        if isinstance(exc, PlatformNotConnected):
            # Not an attempt: the message stays owed, untouched, until its platform connects.
            self.store.set_status(message.stored_message_id, PENDING_SEND)
            return
        self.store.mark_failed(message.stored_message_id, str(exc), exc.delivered_chars)


class ProgressReply:
    """A reply shown while it is generated: posted with the first partial text, then edited as it grows,
    and finally edited into the reply itself. Best effort: the final reply is what counts."""

    def __init__(self, dispatcher: Dispatcher, transport: Transport, incoming: IncomingMessage) -> None:
        self.dispatcher = dispatcher
        self.transport = transport
        self.incoming = incoming
        self.message_id = ""

    async def show(self, text: str) -> None:
        text = text[: self.transport.capabilities.max_text_length]
        try:
            if not self.message_id:
                request = PostRequest(self.incoming.conversation, text, self.incoming.platform_message_id)
                self.message_id = await self.transport.post(request)
            else:
                await self.transport.edit(self.incoming.conversation, self.message_id, text)
        except DeliveryError as exc:
            log.debug("progress update failed: %s", exc)

    async def finish(self, reply: OutgoingMessage) -> bool:
        """Edit the progress message into `reply` and record it sent; False when it must be posted instead."""
        if not self.message_id:
            return False
        if len(reply.text) > self.transport.capabilities.max_text_length:
            with contextlib.suppress(DeliveryError):
                await self.transport.delete(self.incoming.conversation, self.message_id)
            return False
        try:
            await self.transport.edit(self.incoming.conversation, self.message_id, reply.text)
        except DeliveryError:
            return False
        self.dispatcher.record_sent(reply, self.message_id)
        return True


class PlatformSender:
    """A platform as `bot.delivery.Sender`, for features that post on their own (scheduled posts keep
    their own outbox, so nothing is recorded on `messages` here): chunks go out through the dispatcher."""

    def __init__(self, dispatcher: Dispatcher, platform: str) -> None:
        self.dispatcher = dispatcher
        self.platform = platform

    async def send(self, message: OutgoingMessage) -> list[str]:
        if message.stored_message_id is not None:
            if not await self.dispatcher.deliver(message):
                raise DeliveryError(f"{message.conversation.session_id}: not delivered, kept as owed")
            return [self.dispatcher.store.get_message(message.stored_message_id).platform_message_id]
        return await self.dispatcher.send(message)

    async def perform(self, action: PlatformAction) -> None:
        await self.dispatcher.perform(action)
