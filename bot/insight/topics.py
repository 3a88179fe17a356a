"""What people talk about: clusters of a period's member messages per chat, and which are new against the
weeks before. At most `MAX_MESSAGES` recent messages per chat and period are embedded (the newest), so a
report stays fast on a big database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from bot.insight.clustering import Cluster, Embed, cluster_texts
from bot.store import Store

MAX_MESSAGES = 1500
MIN_WORDS = 3
NEW_TOPIC_SIMILARITY = 0.6


@dataclass(frozen=True)
class Topic:
    """One topic of one chat: its label (top terms), size, whether it is new this period, and examples."""

    chat: str
    label: str
    size: int
    new: bool
    examples: tuple[str, ...]
    message_ids: tuple[int, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "chat": self.chat,
            "label": self.label,
            "size": self.size,
            "new": self.new,
            "examples": list(self.examples),
            "message_ids": list(self.message_ids),
        }


def _chat_messages(store: Store, since: datetime, until: datetime) -> dict[str, list[tuple[int, str]]]:
    rows = store.db.query(
        """select * from (
               select m.id, m.text, c.platform || ':' || c.chat_id as chat,
                      row_number() over (partition by c.platform, c.chat_id order by m.id desc) as recent
               from insight_sentiment s join messages m on m.id = s.message_id
               join conversations c on c.id = m.conversation_id
               where s.created_at >= ? and s.created_at < ? and m.text not like '/%')
           where recent <= ? order by id""",
        [since.isoformat(), until.isoformat(), MAX_MESSAGES],
    )
    chats: dict[str, list[tuple[int, str]]] = {}
    for row in rows:
        text = str(row["text"])
        if len(text.split()) >= MIN_WORDS:
            chats.setdefault(str(row["chat"]), []).append((int(row["id"]), text))
    return chats


def find_topics(
    store: Store,
    embed: Embed,
    since: datetime,
    until: datetime,
    baseline_days: int = 21,
    threshold: float = 0.6,
    min_size: int = 3,
    per_chat: int = 8,
) -> list[Topic]:
    """Topics of [since, until) per chat; `new` when no topic of the `baseline_days` before was close to it."""
    current = _chat_messages(store, since, until)
    before = _chat_messages(store, since - timedelta(days=baseline_days), since)
    topics: list[Topic] = []
    for chat, messages in sorted(current.items()):
        texts = [text for _, text in messages]
        clusters = cluster_texts(texts, embed(texts), threshold, min_size)[:per_chat]
        old_centroids = _centroids(before.get(chat, []), embed, threshold, min_size)
        for cluster in clusters:
            closest = float((old_centroids @ cluster.centroid).max()) if len(old_centroids) else 0.0
            topics.append(
                Topic(
                    chat,
                    cluster.label,
                    cluster.size,
                    closest < NEW_TOPIC_SIMILARITY,
                    tuple(texts[index][:200] for index in cluster.members[:3]),
                    tuple(messages[index][0] for index in cluster.members[:3]),
                )
            )
    return topics


def _centroids(messages: list[tuple[int, str]], embed: Embed, threshold: float, min_size: int) -> np.ndarray:
    texts = [text for _, text in messages]
    clusters: list[Cluster] = cluster_texts(texts, embed(texts), threshold, min_size) if texts else []
    return np.stack([cluster.centroid for cluster in clusters]) if clusters else np.zeros((0, 1), dtype=np.float32)
