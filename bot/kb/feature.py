"""The knowledge-base feature: plugs KB answers, human handoff and the ticket commands into the bot.

Routing: the handoff route is the first answer (`ANSWER_HANDOFF`: after the guards, an open ticket silences
the bot in its conversation, whatever auto-replies or other features would say); the KB route comes after
auto-reply rules and memory (`ANSWER_KB`); a turn the KB cannot take (empty KB, small talk, not addressed)
falls through to the plain model. The knowledge base and its answerer are offered to other features as
services (the turn policy asks them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot.kb import KbError
from bot.kb.answerability import load_judge
from bot.kb.answering import KbAnswerer, KbSettings, is_small_talk
from bot.kb.cross_language import CrossLanguageAnswerer
from bot.kb.knowledge_base import KnowledgeBase, knowledge_base_for
from bot.kb.settings import KbSection
from bot.kb.staff import staff_conversation
from bot.kb.tickets import Ticket, TicketDesk, wants_human
from bot.messages import ConversationKey, OutgoingMessage
from bot.plugin import ANSWER_HANDOFF, ANSWER_KB, BaseFeature, FeatureContext
from bot.prompts import PromptLibrary
from bot.routing import Command, RouteReply, TurnContext
from bot.store import Store

log = logging.getLogger(__name__)

FORWARD_LIMIT = 1000


class HandoffRoute:
    """Opens tickets when a person is asked for, and keeps the bot quiet where a ticket is open."""

    name = "kb:handoff"

    def __init__(
        self,
        desk: TicketDesk,
        store: Store,
        prompts: PromptLibrary,
        staff: ConversationKey | None,
        message_link: Callable[[ConversationKey, str], str] = lambda conversation, message_id: "",
    ) -> None:
        self.message_link = message_link
        self.desk = desk
        self.store = store
        self.prompts = prompts
        self.staff = staff

    async def respond(self, turn: TurnContext) -> RouteReply | None:
        ticket = self.desk.open_for(turn.conversation_id)
        if ticket is not None and self.staff is not None:
            return self._quiet(turn, ticket)
        # Without a staff chat nobody is told of the ticket: the person was told so, and the bot keeps answering.
        if turn.addressed and wants_human(turn.text):
            return self.open_ticket(turn, turn.text)
        return None

    def open_ticket(self, turn: TurnContext, reason: str) -> RouteReply:
        """Open (or find) the conversation's ticket, tell staff, and tell the person what happens next."""
        existing = self.desk.open_for(turn.conversation_id)
        if existing is not None:
            return RouteReply(
                self.prompts.render("handoff_exists", ticket_id=existing.id),
                "ticket:exists",
                gate=False,
                details={"outcome": "handoff", "ticket": existing.id},
            )
        author = turn.message.author
        user_name = author.display_name or author.username or author.user_id
        ticket = self.desk.open(
            turn.conversation_id, turn.user_id, user_name, self._summary(turn, reason), turn.message.platform_message_id
        )
        log.info("ticket #%d opened", ticket.id, extra={"session": turn.session_id})
        side: tuple[OutgoingMessage, ...] = ()
        if self.staff is not None:
            text = self.prompts.render(
                "handoff_staff",
                ticket_id=ticket.id,
                user_name=user_name,
                conversation=turn.session_id,
                summary=ticket.summary,
                link=self.message_link(turn.message.conversation, turn.message.platform_message_id),
            )
            side = (OutgoingMessage(self.staff, text, kind="staff", idempotency_key=f"ticket-{ticket.id}-open"),)
        else:
            log.warning(
                "ticket #%d opened but no staff chat is configured ([kb] staff_platform, staff_chat_id)",
                ticket.id,
                extra={"session": turn.session_id},
            )
        text = self.prompts.render("handoff_user", ticket_id=ticket.id, staff_notified=self.staff is not None)
        return RouteReply(
            text,
            "ticket:opened",
            gate=False,
            side_messages=side,
            details={"outcome": "handoff", "ticket": ticket.id, "sources": []},
        )

    def _quiet(self, turn: TurnContext, ticket: Ticket) -> RouteReply:
        side: tuple[OutgoingMessage, ...] = ()
        if self.staff is not None and turn.text and turn.user_id == ticket.user_id:
            text = turn.text if len(turn.text) <= FORWARD_LIMIT else turn.text[: FORWARD_LIMIT - 1] + "…"
            side = (OutgoingMessage(self.staff, f"[ticket #{ticket.id}] {ticket.user_name}: {text}", kind="staff"),)
        return RouteReply(
            "",
            "ticket:quiet",
            gate=False,
            side_messages=side,
            details={"outcome": "handoff", "ticket": ticket.id, "sources": []},
        )

    def _summary(self, turn: TurnContext, reason: str) -> str:
        """The request and the last few messages before it, so staff need not scroll back."""
        lines = []
        for message in self.store.history(turn.conversation_id, limit=4, before_id=turn.stored_message_id):
            who = "user" if message.role == "user" else "bot"
            text = " ".join(message.text.split())
            lines.append(f"{who}: {text[:200]}")
        request = " ".join(reason.split())[:300] or "(no reason given)"
        summary = f"Request: {request}"
        if lines:
            summary += "\nRecent messages:\n" + "\n".join(lines)
        return summary


class KbRoute:
    """Answers addressed questions from the knowledge base, or declines honestly when it doesn't know."""

    name = "kb"

    def __init__(self, kb: KnowledgeBase, answerer: KbAnswerer, settings: KbSection) -> None:
        self.kb = kb
        self.answerer = answerer
        self.settings = settings

    async def respond(self, turn: TurnContext) -> RouteReply | None:
        if not self.settings.enabled or not turn.addressed or not turn.text or turn.text.startswith("/"):
            return None
        if self.settings.pass_small_talk and is_small_talk(turn.text):
            return None
        if await asyncio.to_thread(self.kb.is_empty):
            return None
        answer = await self.answerer.answer(turn.text, conversation_id=turn.session_id)
        # Owner-written text (curated FAQ answers, quoted passages, the decline) goes out as written; the
        # gate would otherwise redact the shop's own phone number or address. Model text is gated.
        gate = answer.mode in ("generated", "faq_rephrased")
        return RouteReply(answer.text, f"kb:{answer.mode}", gate=gate, details=answer.details())


class KbFeature(BaseFeature):
    """Knowledge-base answers, human handoff and the /human, /ticket and /tickets commands."""

    name = "kb"

    def __init__(self) -> None:
        self.kb: KnowledgeBase | None = None
        self.desk: TicketDesk | None = None
        self.answerer: KbAnswerer | None = None
        self.handoff: HandoffRoute | None = None
        self._enabled = False

    def install(self, context: FeatureContext) -> None:
        section = context.section(KbSection)
        self._enabled = section.enabled
        self.kb = knowledge_base_for(context.store, section)
        self.desk = TicketDesk(context.store)
        answerer_type = CrossLanguageAnswerer if section.cross_language else KbAnswerer
        self.answerer = answerer_type(
            self.kb,
            context.engine,
            context.prompts,
            KbSettings.from_section(section),
            context.generation,
            judge_loader=load_judge if section.answerability_judge else None,
        )
        self.handoff = HandoffRoute(
            self.desk, context.store, context.prompts, staff_conversation(section), message_link
        )
        # Found by type by what manages it (the dashboard), never by its name.
        context.services.provide(self)
        if section.enabled:
            context.services.provide(self.kb)
            context.services.provide(self.answerer, as_type=KbAnswerer)
        # Moderation (automod, mutes, rate limits) still sees every message; then an open ticket silences
        # the bot before auto-replies or anything else could answer.
        context.add_route(self.handoff, ANSWER_HANDOFF)
        # With the turn policy on, the policy asks the knowledge base itself (its section, read without
        # importing the policy feature).
        if not getattr(context.config.section_named("policy"), "enabled", False):
            context.add_route(KbRoute(self.kb, self.answerer, section), ANSWER_KB)
        context.add_command(Command("human", "ask for a person from the team", self._cmd_human, usage="[reason]"))
        context.add_command(
            Command("ticket", "close a support ticket", self._cmd_ticket, admin_only=True, usage="close [id]")
        )
        context.add_command(Command("tickets", "list open support tickets", self._cmd_tickets, admin_only=True))

    def forget_user(self, platform: str, user_id: str) -> int:
        """Tickets stay for the team's records, without the person's name or words."""
        assert self.desk is not None, "install() first"
        store = self.desk.store
        with store.transaction() as db:
            return int(
                db.execute(
                    "update tickets set user_name = '', summary = '' where user_id in "
                    "(select id from users where platform = ? and platform_user_id = ?)",
                    [platform, user_id],
                ).rowcount
            )

    async def start(self) -> None:
        """Load the passage vectors and the answerability judge now, so the first question is not slowed."""
        if self.kb is not None and self.answerer is not None and self._enabled:
            await asyncio.to_thread(self.kb.search, "warm up", 1)
            if not await asyncio.to_thread(self.kb.is_empty):
                await self.answerer.load_judge()
                if isinstance(self.answerer, CrossLanguageAnswerer):
                    await self.answerer.warm_up()

    async def _cmd_human(self, turn: TurnContext, args: str) -> RouteReply:
        assert self.handoff is not None
        return self.handoff.open_ticket(turn, args or "asked for a person with /human")

    async def _cmd_ticket(self, turn: TurnContext, args: str) -> RouteReply | str:
        assert self.desk is not None and self.handoff is not None
        action, _, rest = args.partition(" ")
        if action.lower() != "close":
            return "Usage: /ticket close [id] (without an id: this conversation's open ticket)."
        rest = rest.strip().lstrip("#")
        if rest:
            if not rest.isdigit():
                return f"'{rest}' is not a ticket number. Usage: /ticket close [id]."
            ticket_id = int(rest)
        else:
            current = self.desk.open_for(turn.conversation_id)
            if current is None:
                return "There is no open ticket in this conversation. Usage: /ticket close <id>."
            ticket_id = current.id
        author = turn.message.author
        try:
            ticket = self.desk.close(ticket_id, f"{turn.message.platform}:{author.username or author.user_id}")
        except KbError as exc:
            return f"Cannot close it: {exc}."
        log.info("ticket #%d closed", ticket.id, extra={"session": turn.session_id})
        closed_text = self.handoff.prompts.render("handoff_closed", ticket_id=ticket.id)
        if ticket.conversation_id == turn.conversation_id:
            return RouteReply(closed_text, "ticket:closed", gate=False, details={"ticket": ticket.id})
        notice = OutgoingMessage(
            ticket.conversation, closed_text, kind="notice", idempotency_key=f"ticket-{ticket.id}-closed"
        )
        return RouteReply(
            f"Ticket #{ticket.id} closed; {ticket.user_name} has been told.",
            "ticket:closed",
            gate=False,
            side_messages=(notice,),
            details={"ticket": ticket.id},
        )

    async def _cmd_tickets(self, turn: TurnContext, args: str) -> str:
        assert self.desk is not None
        tickets = self.desk.tickets()
        if not tickets:
            return "No open tickets."
        lines = [
            f"#{t.id} {t.user_name} in {t.conversation.session_id}, opened {t.opened_at[:16]}: {_first_line(t.summary)}"
            for t in tickets
        ]
        return "Open tickets:\n" + "\n".join(lines)


def _first_line(text: str, limit: int = 80) -> str:
    line = text.split("\n", 1)[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def message_link(conversation: ConversationKey, message_id: str) -> str:
    """A link staff can open to the message, as the conversation's platform makes them ("" where none)."""
    from bot.plugin_registry import platform_spec

    spec = platform_spec(conversation.platform)
    return spec.message_link(conversation, message_id) if spec is not None else ""
