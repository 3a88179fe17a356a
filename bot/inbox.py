"""`Inbox`: the one way in. Every platform hands its translated messages here, and nowhere else.

A message is written to the store before anything else happens to it (before the platform is told it was
received), then queued: turns run one at a time per conversation and concurrently across conversations.
A replay of a message already handled is recognised here, once, for every platform. At start it finds
what a crash or a stop left unanswered and answers it; on stop it lets turns in flight finish for a
grace period and leaves the rest stored, to be answered on the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bot.dispatch.dispatcher import Dispatcher, ProgressReply
from bot.dispatch.settings import DeliverySection
from bot.dispatch.transport import ReplySurface
from bot.manager import ConversationManager, TurnAbandoned
from bot.messages import Author, IncomingMessage, OutgoingMessage
from bot.store import IGNORED, INCOMING_FLAGS, Store, StoredMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueuedTurn:
    """A stored message waiting for its answer."""

    message: IncomingMessage
    stored_id: int
    surface: ReplySurface | None = None
    # Recovered after the bot was away longer than `stale_after_s`: the answer starts with an apology.
    late: bool = False


def stored_to_incoming(store: Store, stored: StoredMessage) -> IncomingMessage:
    """Rebuild the message as it came from the stored row (for answering it after a restart)."""
    key = store.conversation_key(stored.conversation_id)
    author = (store.user_identity(stored.user_id) if stored.user_id is not None else None) or Author("")
    flags = (stored.details or {}).get(INCOMING_FLAGS, {})
    sent_at = _parse_time(str(flags.get("sent_at") or stored.created_at))
    return IncomingMessage(
        conversation=key,
        author=author,
        text=stored.text,
        platform_message_id=stored.platform_message_id,
        reply_to_message_id=stored.reply_to_message_id,
        mentions_bot=bool(flags.get("mentions_bot", False)),
        replies_to_bot=bool(flags.get("replies_to_bot", False)),
        is_direct=bool(flags.get("is_direct", False)),
        sent_at=sent_at,
        author_is_admin=bool(flags.get("author_is_admin", False)),
        may_reply=bool(flags.get("may_reply", True)),
    )


class Inbox:
    """Stores, deduplicates and queues incoming messages, and runs their turns through the manager."""

    def __init__(
        self,
        manager: ConversationManager,
        dispatcher: Dispatcher,
        settings: DeliverySection,
        show_progress: Callable[[str], bool] = lambda platform: False,
    ) -> None:
        self.manager = manager
        self.dispatcher = dispatcher
        self.settings = settings
        self.show_progress = show_progress
        self._chains: dict[str, asyncio.Task[None]] = {}
        self._queued: set[int] = set()
        self._answering: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def store(self) -> Store:
        return self.manager.store

    def open(self) -> None:
        """Start answering again (a platform connected after a stop)."""
        self._closed = False
        self.manager.shutting_down = False

    def position(self, stream: str) -> str | None:
        """How far a platform's event stream is stored (e.g. the last Telegram update id), or None."""
        return self.store.get_state(f"inbox:{stream}")

    def advance(self, stream: str, position: str) -> None:
        """The stream is stored up to `position` (an event that holds no message, e.g. one skipped)."""
        self.store.set_state(f"inbox:{stream}", position)

    async def receive(
        self,
        message: IncomingMessage,
        surface: ReplySurface | None = None,
        stream_position: tuple[str, str] | None = None,
    ) -> None:
        """Store `message` durably, then queue its answer; returns once it is stored.

        `stream_position` (stream, position) is saved in the same transaction as the message, so the
        platform's stream is never recorded as read past a message that is not stored. While the bot stops,
        messages are still stored (so none is lost) but not answered until the next start. A replay of a
        handled message, or an edit, is stored (or updated) and goes no further.
        """
        with self.store.transaction():
            stored_id = self.manager.store_incoming(message)
            if stream_position is not None:
                self.advance(*stream_position)
        if stored_id is None or self._closed:
            if surface is not None:
                await surface.finish(answered=False)
            return
        self._enqueue(QueuedTurn(message, stored_id, surface))

    async def recover(self, platform: str) -> int:
        """Queue every message stored for `platform` and never answered, oldest first; returns how many.

        One older than `stale_after_s` is answered with an apology first, or skipped (`stale_messages`).
        """
        now = datetime.now(UTC)
        queued = 0
        for stored in self.store.unanswered_messages(platform):
            if stored.id in self._queued or self._closed:
                continue
            message = stored_to_incoming(self.store, stored)
            late = (now - message.sent_at).total_seconds() > self.settings.stale_after_s
            if late and self.settings.stale_messages == "skip":
                log.info("stale message %d skipped", stored.id, extra={"session": message.conversation.session_id})
                self.store.set_status(stored.id, IGNORED)
                continue
            self._enqueue(QueuedTurn(message, stored.id, late=late))
            queued += 1
        if queued:
            log.info("%s: answering %d messages left unanswered before", platform, queued)
        return queued

    async def wait_idle(self, session_id: str) -> None:
        """Until every turn queued so far in the conversation `session_id` is over."""
        chain = self._chains.get(session_id)
        if chain is not None:
            await asyncio.wait([chain])

    async def drain(self, grace_s: float) -> int:
        """Stop starting turns; let those in flight finish within `grace_s`, then cut off the rest.

        Returns the number cut off. A cut-off turn's message stays stored as unanswered and a reply it
        stored stays owed: both go out on the next start. No error text is ever sent for the stop.
        """
        self._closed = True
        chains = list(self._chains.values())
        if chains:
            await asyncio.wait(chains, timeout=grace_s)
        late = [task for task in self._chains.values() if not task.done()]
        self.manager.shutting_down = True
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)
            log.warning("%d conversations had turns left unfinished; they are answered on the next start", len(late))
        return len(late)

    # internals ----------------------------------------------------------------------------------------

    def _enqueue(self, turn: QueuedTurn) -> None:
        if turn.stored_id in self._queued:
            return
        self._queued.add(turn.stored_id)
        session = turn.message.conversation.session_id
        previous = self._chains.get(session)
        task = asyncio.create_task(self._run(previous, turn), name=f"turn-{turn.stored_id}")
        self._chains[session] = task

        def forget(done: asyncio.Task[None]) -> None:
            self._queued.discard(turn.stored_id)
            if self._chains.get(session) is done:
                del self._chains[session]

        task.add_done_callback(forget)

    async def _run(self, previous: asyncio.Task[None] | None, turn: QueuedTurn) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        if self._closed:  # never started: it stays stored as unanswered for the next start
            return
        session = turn.message.conversation.session_id
        try:
            await self._answer(turn)
        except TurnAbandoned:
            log.info("turn %d left for the next start", turn.stored_id, extra={"session": session})
        except Exception:
            log.exception("turn %d failed", turn.stored_id, extra={"session": session})

    async def _answer(self, turn: QueuedTurn) -> None:
        message = turn.message
        addressed = not message.author.is_bot and not message.is_edit and self.manager.addressing(message)
        progress: ProgressReply | None = None
        if addressed and turn.surface is None and self.show_progress(message.platform):
            progress = self.dispatcher.progress_for(message)
        typing = self.dispatcher.typing(message.conversation) if addressed else contextlib.nullcontext()
        async with typing:
            replies = await self.manager.answer_stored(
                message, turn.stored_id, progress.show if progress is not None else None
            )
            self.dispatcher.claim(replies)  # before any await: a flush of owed replies must not take them
        try:
            answered_on_surface = await self._deliver(turn, replies, progress)
        finally:
            for reply in replies:
                self.dispatcher.release(reply)
        if turn.surface is not None:
            await turn.surface.finish(answered=answered_on_surface)

    async def _deliver(self, turn: QueuedTurn, replies: list[OutgoingMessage], progress: ProgressReply | None) -> bool:
        """Deliver a turn's replies in order; True when the answer went out through the turn's surface."""
        message = turn.message
        answered_on_surface = False
        for index, reply in enumerate(replies):
            same_chat = reply.conversation == message.conversation
            if turn.late and same_chat and index == 0 and reply.stored_message_id is not None:
                text = f"{self.settings.stale_apology} {reply.text}"
                self.store.update_text(reply.stored_message_id, text)
                reply = replace(reply, text=text)
            if progress is not None and same_chat and message.may_reply and await progress.finish(reply):
                continue
            surface = None
            if turn.surface is not None and same_chat and reply.reply_to_message_id == message.platform_message_id:
                surface = turn.surface
            delivered = await self.dispatcher.deliver(reply, answering=message, surface=surface)
            answered_on_surface = answered_on_surface or (surface is not None and delivered)
        return answered_on_surface


def _parse_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return datetime.now(UTC)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
