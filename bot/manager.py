"""The conversation manager: from one normalized incoming message to the replies to send.

It stores the message first (so a crash never loses it), flags it through the gate, asks commands, feature
routes and finally the model for an answer, gates that answer, stores it as owed, and returns it. It knows no
platform: adapters feed it `IncomingMessage`s and deliver the `OutgoingMessage`s it returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from bot import __version__
from bot.context import build_prompt
from bot.engine.base import (
    Engine,
    EngineBusy,
    EngineError,
    EngineTimeout,
    GenerationRequest,
    GenerationResult,
    GenerationSettings,
)
from bot.engine.text import clean_reply
from bot.messages import IncomingMessage, OutgoingMessage
from bot.moderation.gate import ModerationDecision, ModerationGate, Strictness
from bot.prompts import PromptLibrary
from bot.routing import Command, CommandRegistry, ProgressSink, Route, RouteReply, TurnContext, parse_command
from bot.sanitize import clean_text, log_preview, storable
from bot.store import ANSWERED, IGNORED, INCOMING_FLAGS, PENDING_SEND, RECEIVED, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ManagerSettings:
    """The manager's knobs, taken from the `[bot]` and `[generation]` config sections."""

    bot_name: str = "socialbot"
    community_name: str = "our community"
    tone: str = "friendly and concise"
    persona_prompt: str = "persona"
    history_token_budget: int = 1024
    max_input_chars: int = 4000
    busy_reply: str = "I'm busy right now, please try again in a moment."
    error_reply: str = "Something went wrong on my side, please try again."
    progress_interval_s: float = 1.0
    generation: GenerationSettings = field(default_factory=GenerationSettings)


# Decides whether a message is addressed to the bot; features (per-chat settings) may replace it.
AddressingPolicy = Callable[[IncomingMessage], bool]
# Strictness of the gate for a conversation; per-chat settings may replace it.
StrictnessPolicy = Callable[[IncomingMessage], Strictness]
# Persona prompt name for a conversation ("" means `settings.persona_prompt`); per-chat settings may set it.
PersonaPolicy = Callable[[IncomingMessage], str]


class TurnAbandoned(Exception):
    """A turn was cut off because the bot is stopping; its message stays stored as unanswered."""


def incoming_flags(message: IncomingMessage) -> dict[str, object]:
    """What a stored row does not otherwise keep of how the message came, to answer it after a restart."""
    return {
        "mentions_bot": message.mentions_bot,
        "replies_to_bot": message.replies_to_bot,
        "is_direct": message.is_direct,
        "author_is_admin": message.author_is_admin,
        "may_reply": message.may_reply,
        "sent_at": message.sent_at.isoformat(),
    }


def default_addressing(message: IncomingMessage) -> bool:
    return message.may_reply and message.is_addressed_to_bot


class ConversationManager:
    """Answers incoming messages; one turn at a time per conversation, many conversations at once."""

    def __init__(
        self,
        store: Store,
        engine: Engine,
        gate: ModerationGate,
        prompts: PromptLibrary,
        settings: ManagerSettings,
        routes: Sequence[Route] = (),
        commands: CommandRegistry | None = None,
        addressing: AddressingPolicy = default_addressing,
        strictness: StrictnessPolicy = lambda message: "normal",
        persona_for: PersonaPolicy | None = None,
    ) -> None:
        self.store = store
        self.engine = engine
        self.gate = gate
        self.prompts = prompts
        self.settings = settings
        self.routes = list(routes)
        self.commands = commands or CommandRegistry()
        self.addressing = addressing
        self.strictness = strictness
        self.persona_for = persona_for
        # The bot's handle per platform (set by its adapter), so `/command@other_bot` is left alone.
        self.bot_usernames: dict[str, str] = {}
        # Set while the bot stops: a turn the engine cannot finish is left unanswered, never answered
        # with the error text.
        self.shutting_down = False
        # Awaited before each turn, outside the conversation's lock: a start in the background holds turns
        # here until the model is up (`bot.ops.startup.BackgroundStart`).
        self.before_turn: Callable[[], Awaitable[None]] | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._protected_prompts: set[str] = set()
        # Features that store user data register `forget(platform, user_id) -> rows changed` here.
        self.forget_hooks: list[Callable[[str, str], int]] = []
        # Features that add context for the model (remembered facts) register `hook(turn) -> text` here.
        self.prompt_hooks: list[Callable[[TurnContext], str]] = []
        self._register_builtins()

    # public API ---------------------------------------------------------------------------------------

    def system_prompt(self, message: IncomingMessage | None = None) -> str:
        """The persona prompt, rendered; `message` selects a conversation's own persona if one is set."""
        persona = self.settings.persona_prompt
        if message is not None and self.persona_for is not None:
            persona = self.persona_for(message) or persona
        prompt = self.prompts.render(
            persona,
            bot_name=self.settings.bot_name,
            community_name=self.settings.community_name,
            tone=self.settings.tone,
            today=datetime.now(UTC).strftime("%A %d %B %Y"),
        )
        if prompt not in self._protected_prompts:  # every persona in use is guarded against leaks
            self._protected_prompts.add(prompt)
            self.gate.protect(prompt)
        return prompt

    async def handle(self, message: IncomingMessage, progress: ProgressSink | None = None) -> list[OutgoingMessage]:
        """Store, flag and (when addressed) answer `message`; returns the replies to deliver.

        A replayed message (same platform id in the same conversation) that was already answered returns
        nothing. Errors inside features or the model become a polite reply, never an exception.
        """
        stored_id = self.store_incoming(message)
        if stored_id is None:
            return []
        return await self.answer_stored(message, stored_id, progress)

    def store_incoming(self, message: IncomingMessage) -> int | None:
        """Write `message` durably and return its row id when it still has to be answered.

        None for a replay of a message already handled and for an edit (its stored text is updated). A
        message stored earlier but never answered (a crash came first) returns its existing row.
        """
        conversation_id = self.store.conversation_id(message.conversation)
        existing = self.store.find_user_message(conversation_id, message.platform_message_id)
        if existing is not None and message.is_edit:
            self.store.update_text(existing.id, storable(message.text))
            return None
        if existing is not None:
            if existing.status != RECEIVED:
                log.info(
                    "duplicate message %s ignored",
                    message.platform_message_id,
                    extra={"session": message.conversation.session_id},
                )
                return None
            return existing.id
        user_id = self.store.upsert_user(message.platform, message.author)
        return self.store.insert_message(
            conversation_id,
            "user",
            storable(message.text),
            RECEIVED,
            user_id=user_id,
            platform_message_id=message.platform_message_id,
            reply_to_message_id=message.reply_to_message_id,
            details={INCOMING_FLAGS: incoming_flags(message)},
        )

    async def answer_stored(
        self, message: IncomingMessage, stored_id: int, progress: ProgressSink | None = None
    ) -> list[OutgoingMessage]:
        """Answer the stored message `stored_id` (one turn at a time per conversation).

        Nothing when it was handled meanwhile. `TurnAbandoned` when the engine is stopping under it: the
        message stays unanswered, to be answered on the next start, and no error text is sent.
        """
        if self.before_turn is not None:
            await self.before_turn()
        session = message.conversation.session_id
        lock = self._locks.setdefault(session, asyncio.Lock())
        async with lock:
            if self.store.get_message(stored_id).status != RECEIVED:
                return []
            try:
                return await self._handle_locked(message, stored_id, progress)
            except TurnAbandoned:
                raise
            except Exception:
                if self.shutting_down:
                    raise TurnAbandoned(f"message {stored_id} left for the next start") from None
                log.exception("failed to handle message", extra={"session": session})
                # Answered with the apology below: a message that fails every time must not come back at
                # every start.
                self.store.set_status(stored_id, ANSWERED)
                return [
                    OutgoingMessage(
                        message.conversation, self._notice("error"), message.platform_message_id, kind="notice"
                    )
                ]

    # internals ----------------------------------------------------------------------------------------

    async def _handle_locked(
        self, message: IncomingMessage, stored_id: int, progress: ProgressSink | None = None
    ) -> list[OutgoingMessage]:
        conversation_id = self.store.conversation_id(message.conversation)
        user_id = self.store.get_message(stored_id).user_id or self.store.upsert_user(message.platform, message.author)
        text, truncated = clean_text(message.text, self.settings.max_input_chars)
        log.debug(
            "message %s (%d chars%s): %s",
            stored_id,
            len(message.text),
            ", truncated" if truncated else "",
            log_preview(text),
            extra={"session": message.conversation.session_id},
        )
        strictness = self.strictness(message)
        flag: ModerationDecision | None = None
        if text:
            flag = await asyncio.to_thread(self.gate.check_input, text, strictness)
            self._record(stored_id, "in", flag)
        if message.author.is_bot:
            self.store.set_status(stored_id, IGNORED)
            return []
        turn = TurnContext(message, text, conversation_id, user_id, stored_id, self.addressing(message), flag, progress)
        reply = await self._answer(turn)
        if reply is None:
            self.store.set_status(stored_id, ANSWERED if turn.addressed else IGNORED)
            return []
        outgoing = await self._finish(turn, reply, strictness)
        # A quietly consumed turn (muted, over a limit, deleted by automod) stays out of later prompts.
        self.store.set_status(stored_id, ANSWERED if reply.text else IGNORED)
        return outgoing

    async def _answer(self, turn: TurnContext) -> RouteReply | None:
        # Guards (automod, mutes, rate limits) see every message first, commands included.
        for route in self.routes:
            if getattr(route, "guards_commands", False):
                reply = await route.respond(turn)
                if reply is not None:
                    return reply
        parsed = parse_command(turn.text, self.bot_usernames.get(turn.message.platform, ""))
        if parsed is not None:
            name, args = parsed
            command = self.commands.get(name)
            if command is not None:
                return await self._run_command(command, turn, args)
            if not turn.addressed:
                return None
            return RouteReply(self.prompts.render("unknown_command", name=name), "command:unknown", gate=False)
        for route in self.routes:
            if getattr(route, "guards_commands", False):
                continue
            reply = await route.respond(turn)
            if reply is not None:
                return reply
        if not turn.addressed:
            return None
        if not turn.text:
            return RouteReply(self.prompts.render("empty_message"), "empty", gate=False)
        return await self._generate(turn)

    async def _run_command(self, command: Command, turn: TurnContext, args: str) -> RouteReply:
        if command.admin_only and not turn.is_admin:
            log.warning(
                "non-admin %s refused /%s",
                turn.message.author.user_id,
                command.name,
                extra={"session": turn.message.conversation.session_id},
            )
            return RouteReply(
                self.prompts.render("admins_only", name=command.name), f"command:{command.name}:refused", gate=False
            )
        result = await command.handler(turn, args)
        if isinstance(result, str):
            return RouteReply(result, f"command:{command.name}", gate=False)
        return result

    async def _generate(self, turn: TurnContext) -> RouteReply:
        history = self.store.history(turn.conversation_id, limit=100, before_id=turn.stored_message_id)
        prompt = build_prompt(
            "\n\n".join([self.system_prompt(turn.message), *filter(None, (hook(turn) for hook in self.prompt_hooks))]),
            history,
            turn.text,
            self.settings.history_token_budget,
            self.engine.count_tokens,
        )
        request = GenerationRequest(
            prompt.turns, self.settings.generation, conversation_id=turn.message.conversation.session_id
        )
        try:
            if turn.progress is not None:
                result = await self._generate_with_progress(request, turn)
            else:
                result = await self.engine.generate(request)
        except EngineBusy:
            return RouteReply(self._notice("busy"), "busy", gate=False)
        except EngineTimeout:
            log.warning("generation timed out", extra={"session": turn.message.conversation.session_id})
            return RouteReply(self._notice("error"), "timeout", gate=False)
        except EngineError:
            if self.shutting_down:
                raise TurnAbandoned("the engine stopped under the turn") from None
            log.exception("engine failed", extra={"session": turn.message.conversation.session_id})
            return RouteReply(self._notice("error"), "engine_error", gate=False)
        text = result.text.strip() or self.prompts.render("no_answer")
        return RouteReply(
            text,
            "lm",
            details={
                "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens,
                "history_used": prompt.history_used,
            },
        )

    async def _generate_with_progress(self, request: GenerationRequest, turn: TurnContext) -> GenerationResult:
        """Stream the reply, showing gated partial text at most every `progress_interval_s` seconds.

        A partial text the gate would block is never shown, and showing stops there; the final reply is gated
        again as a whole like any other.
        """
        assert turn.progress is not None
        pieces: list[str] = []
        loop = asyncio.get_running_loop()
        last_shown = loop.time()
        showing = True
        strictness = self.strictness(turn.message)
        async for piece in self.engine.stream(request):
            pieces.append(piece)
            if showing and loop.time() - last_shown >= self.settings.progress_interval_s:
                partial = clean_reply("".join(pieces), finished_by_length=False)
                decision = await asyncio.to_thread(
                    self.gate.check_output, partial, strictness, request=turn.message.text
                )
                if decision.blocked:
                    showing = False
                elif partial:
                    await turn.progress(decision.text + " …")
                last_shown = loop.time()
        raw = "".join(pieces)
        text = clean_reply(raw, finished_by_length=not raw.rstrip().endswith((".", "!", "?", "…")))
        return GenerationResult(text, self.engine.count_tokens(request.messages), len(pieces), "stop")

    async def _finish(self, turn: TurnContext, reply: RouteReply, strictness: Strictness) -> list[OutgoingMessage]:
        side = [self._store_side_message(message, reply.source) for message in reply.side_messages]
        if not reply.text:
            log.info("turn consumed quietly by %s", reply.source, extra={"session": turn.session_id})
            return side
        text = reply.text
        decision: ModerationDecision | None = None
        if reply.gate:
            # A reply with completion tokens was written by the model: the gate may read it with the model's own
            # hidden states (KB quotes and owner-written texts are not).
            generated = "completion_tokens" in reply.details
            decision = await asyncio.to_thread(
                self.gate.check_output, text, strictness, request=turn.message.text, generated=generated
            )
            text = decision.text
        stored = self.store.insert_message(
            turn.conversation_id,
            "assistant",
            text,
            PENDING_SEND,
            reply_to_message_id=turn.message.platform_message_id,
            source=reply.source,
            details=reply.details,
        )
        if decision is not None:
            self._record(stored, "out", decision)
        outgoing = [
            OutgoingMessage(
                turn.message.conversation,
                text,
                turn.message.platform_message_id,
                stored,
                kind="reply" if reply.gate else "notice",
            )
        ]
        outgoing.extend(side)
        return outgoing

    def _store_side_message(self, message: OutgoingMessage, source: str) -> OutgoingMessage:
        """Store a message to another conversation (staff notice...) as owed, like any reply."""
        if message.stored_message_id is not None:
            return message
        conversation_id = self.store.conversation_id(message.conversation)
        stored = self.store.insert_message(
            conversation_id,
            "assistant",
            message.text,
            PENDING_SEND,
            reply_to_message_id=message.reply_to_message_id,
            source=source,
        )
        return replace(message, stored_message_id=stored)

    def _notice(self, name: str) -> str:
        """The busy/error text: the owner's `[bot]` text when set, else the catalogue's in the turn's language."""
        configured = self.settings.busy_reply if name == "busy" else self.settings.error_reply
        default = ManagerSettings.busy_reply if name == "busy" else ManagerSettings.error_reply
        return configured if configured != default else self.prompts.render(name)

    def _record(self, message_id: int, direction: str, decision: ModerationDecision) -> None:
        self.store.record_moderation(message_id, direction, decision.action, list(decision.reasons), decision.scores)

    # built-in commands --------------------------------------------------------------------------------

    def _register_builtins(self) -> None:
        self.commands.add(Command("help", "what I can do", self._cmd_help))
        self.commands.add(Command("start", "say hello", self._cmd_start))
        self.commands.add(Command("about", "about this bot", self._cmd_about))
        self.commands.add(Command("reset", "forget this conversation's context", self._cmd_reset))
        self.commands.add(Command("forgetme", "delete everything stored about you", self._cmd_forget_me))

    async def _cmd_help(self, turn: TurnContext, args: str) -> str:
        visible = [command for command in self.commands.all() if turn.is_admin or not command.admin_only]
        return self.prompts.render(
            "help",
            bot_name=self.settings.bot_name,
            commands=[{"name": c.name, "description": c.description} for c in visible],
        )

    async def _cmd_start(self, turn: TurnContext, args: str) -> str:
        name = turn.message.author.display_name or turn.message.author.username or "there"
        return self.prompts.render(
            "start", bot_name=self.settings.bot_name, community_name=self.settings.community_name, user_name=name
        )

    async def _cmd_about(self, turn: TurnContext, args: str) -> str:
        return self.prompts.render(
            "about",
            bot_name=self.settings.bot_name,
            community_name=self.settings.community_name,
            model_name=self.engine.model_name,
            version=__version__,
        )

    async def _cmd_reset(self, turn: TurnContext, args: str) -> str:
        self.store.reset_conversation(turn.conversation_id)
        self.engine.forget_conversation(turn.message.conversation.session_id)
        return self.prompts.render("reset")

    async def _cmd_forget_me(self, turn: TurnContext, args: str) -> str:
        platform, user_id = turn.message.platform, turn.message.author.user_id
        for forget in self.forget_hooks:
            forget(platform, user_id)
        removed = self.store.delete_user_data(platform, user_id)
        # The conversation's cached keys/values hold the user's words too; it is re-encoded next turn.
        self.engine.forget_conversation(turn.message.conversation.session_id)
        return self.prompts.render("forget_me_done", removed=removed)
