"""Human handoff: tickets that hand a conversation to staff and keep the bot quiet there until closed.

A ticket belongs to one conversation; while it is open the bot answers nothing in that conversation (it
forwards the requester's messages to the staff chat instead). Staff are reached through the manager's side
messages (an `OutgoingMessage` of kind "staff" to the configured staff chat), so handoff works the same on
every platform and needs no adapter knowledge here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.kb import KbError
from bot.messages import ConversationKey
from bot.store import Store, utc_now

OPEN = "open"
CLOSED = "closed"

_ASK_FOR_PERSON = re.compile(
    r"\b(talk|speak|chat|connect|transfer|put|get|escalate|need|want)\b[^.?!]{0,40}"
    r"\b(human|person|someone real|somebody real|real (one|person|human)|agent|operator|"
    r"representative|staff|employee|team member|manager|customer (service|support)|support (team|person|agent))\b",
    re.IGNORECASE,
)
_JUST_A_PERSON = re.compile(
    r"^\W*(a\s+)?(human|real person|person|agent|operator|representative|live (agent|chat|person|support))"
    r"(\s+please)?\W*$|\b(are you|is this) (a )?(bot|robot|human|real person)\b.*\b(human|person|someone)\b|"
    r"\b(is there|are there) (a |any )?(human|real person|people|staff|anyone)\b",
    re.IGNORECASE,
)


def wants_human(text: str) -> bool:
    """Whether `text` asks for a person ("can I talk to a human?", "agent please", "get me a real person")."""
    if len(text) > 300:
        return False
    return bool(_ASK_FOR_PERSON.search(text) or _JUST_A_PERSON.search(text))


@dataclass(frozen=True)
class Ticket:
    """A request for a person, as stored in `tickets`."""

    id: int
    conversation_id: int
    conversation: ConversationKey
    user_id: int | None
    user_name: str
    status: str
    summary: str
    opened_message_id: str
    opened_at: str
    closed_at: str
    closed_by: str

    @property
    def is_open(self) -> bool:
        return self.status == OPEN

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "conversation": self.conversation.session_id,
            "user_name": self.user_name,
            "status": self.status,
            "summary": self.summary,
            "opened_at": self.opened_at,
            "closed_at": self.closed_at,
            "closed_by": self.closed_by,
        }


class TicketDesk:
    """Opens, finds, lists and closes tickets in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def open(
        self, conversation_id: int, user_id: int | None, user_name: str, summary: str, message_id: str = ""
    ) -> Ticket:
        """A new open ticket, or the conversation's open one (never two open tickets in one conversation)."""
        with self.store.transaction() as db:
            current = self.open_for(conversation_id)
            if current is not None:
                return current
            table = db.table("tickets")
            table.insert(
                {
                    "conversation_id": conversation_id,
                    "user_id": user_id,
                    "user_name": user_name,
                    "status": OPEN,
                    "summary": summary,
                    "opened_message_id": message_id,
                    "opened_at": utc_now(),
                    "closed_at": "",
                    "closed_by": "",
                }
            )
            assert table.last_pk is not None
            ticket_id = int(table.last_pk)
        ticket = self.get(ticket_id)
        assert ticket is not None
        return ticket

    def open_for(self, conversation_id: int) -> Ticket | None:
        rows = self._query(
            "where t.conversation_id = ? and t.status = ? order by t.id limit 1", [conversation_id, OPEN]
        )
        return rows[0] if rows else None

    def get(self, ticket_id: int) -> Ticket | None:
        rows = self._query("where t.id = ?", [ticket_id])
        return rows[0] if rows else None

    def tickets(self, include_closed: bool = False, limit: int = 100) -> list[Ticket]:
        if include_closed:
            return self._query("order by t.id desc limit ?", [limit])
        return self._query("where t.status = ? order by t.id limit ?", [OPEN, limit])

    def close(self, ticket_id: int, closed_by: str) -> Ticket:
        """Close an open ticket; raises `KbError` when there is no such open ticket."""
        ticket = self.get(ticket_id)
        if ticket is None:
            raise KbError(f"there is no ticket #{ticket_id}")
        if not ticket.is_open:
            raise KbError(f"ticket #{ticket_id} is already closed")
        with self.store.transaction() as db:
            db.execute(
                "update tickets set status = ?, closed_at = ?, closed_by = ? where id = ?",
                [CLOSED, utc_now(), closed_by, ticket_id],
            )
        closed = self.get(ticket_id)
        assert closed is not None
        return closed

    def _query(self, tail: str, params: list[Any]) -> list[Ticket]:
        rows = self.store.db.query(
            "select t.*, c.platform, c.chat_id, c.thread_id from tickets t "
            f"join conversations c on c.id = t.conversation_id {tail}",
            params,
        )
        return [
            Ticket(
                id=row["id"],
                conversation_id=row["conversation_id"],
                conversation=ConversationKey(row["platform"], row["chat_id"], row["thread_id"]),
                user_id=row["user_id"],
                user_name=row["user_name"] or "",
                status=row["status"],
                summary=row["summary"] or "",
                opened_message_id=row["opened_message_id"] or "",
                opened_at=row["opened_at"],
                closed_at=row["closed_at"] or "",
                closed_by=row["closed_by"] or "",
            )
            for row in rows
        ]
