"""Knowledge gaps: the questions the bot declined or handed to a person, grouped, as KB entries to write next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.insight.clustering import Embed, cluster_texts
from bot.store import Store

MAX_QUESTIONS = 3000


@dataclass(frozen=True)
class KnowledgeGap:
    """A group of unanswered questions: the most typical phrasing as the entry to write, how often, examples."""

    label: str
    terms: str
    count: int
    declined: int
    handoffs: int
    examples: tuple[str, ...]
    message_ids: tuple[int, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "label": self.label,
            "terms": self.terms,
            "count": self.count,
            "declined": self.declined,
            "handoffs": self.handoffs,
            "examples": list(self.examples),
            "message_ids": list(self.message_ids),
        }


def unanswered_questions(store: Store, since: datetime, until: datetime) -> list[tuple[int, str, str]]:
    """(message id, question text, outcome) of member questions whose reply was a decline or a handoff."""
    rows = store.db.query(
        """select q.id, q.text, json_extract(a.details, '$.outcome') as outcome from messages a
           join messages q on q.conversation_id = a.conversation_id and q.role = 'user'
                and a.reply_to_message_id != '' and q.platform_message_id = a.reply_to_message_id
           where a.role = 'assistant' and json_extract(a.details, '$.outcome') in ('declined', 'handoff')
           and a.created_at >= ? and a.created_at < ? and q.text not like '/%'
           order by a.id desc limit ?""",
        [since.isoformat(), until.isoformat(), MAX_QUESTIONS],
    )
    return [(int(row["id"]), str(row["text"]), str(row["outcome"])) for row in rows]


def find_gaps(
    store: Store, embed: Embed, since: datetime, until: datetime, threshold: float = 0.65, min_count: int = 2
) -> list[KnowledgeGap]:
    """Groups of at least `min_count` similar unanswered questions, most asked first."""
    questions = unanswered_questions(store, since, until)
    texts = [text for _, text, _ in questions]
    if not texts:
        return []
    gaps = []
    for cluster in cluster_texts(texts, embed(texts), threshold, min_count):
        outcomes = [questions[index][2] for index in cluster.members]
        gaps.append(
            KnowledgeGap(
                texts[cluster.members[0]][:200],
                cluster.label,
                cluster.size,
                outcomes.count("declined"),
                outcomes.count("handoff"),
                tuple(texts[index][:200] for index in cluster.members[:4]),
                tuple(questions[index][0] for index in cluster.members[:4]),
            )
        )
    return gaps
