"""Customer service from the owner's knowledge base: grounded answers, honest "I don't know", human handoff.

`KnowledgeBase` ingests documents and retrieves passages (hybrid lexical + vector), `KbAnswerer` turns
retrieved passages into an answer or a decline, `TicketDesk` hands a conversation to staff, and
`KbFeature` plugs all of it into the bot.
"""

from __future__ import annotations


class KbError(Exception):
    """A knowledge-base operation failed; the message names the file or item and what to do about it."""
