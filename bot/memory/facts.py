"""The stored facts of each member, read and written only inside one scope: member, platform and community.

A `MemoryScope` is the only key: there is no query that reads facts across communities or members, so a
fact told in one chat group can never be shown in another, nor to someone else.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.memory.extraction import SINGLE_VALUED, Fact
from bot.messages import IncomingMessage
from bot.store import Store, utc_now

MAX_FACTS_PER_SCOPE = 50


@dataclass(frozen=True)
class MemoryScope:
    """Whose memory, on which platform, in which community (the chat; threads of one chat share it)."""

    platform: str
    platform_user_id: str
    community: str

    @classmethod
    def of(cls, message: IncomingMessage) -> MemoryScope:
        return cls(message.platform, message.author.user_id, message.conversation.chat_id)


@dataclass(frozen=True)
class StoredFact:
    """A remembered fact with the message it came from and when it was said."""

    id: int
    kind: str
    value: str
    language: str
    source_message_id: int | None
    source_text: str
    created_at: str


class FactStore:
    """Reads and writes `memory_facts` for one scope at a time."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def remember(self, scope: MemoryScope, facts: list[Fact], source_message_id: int | None, source_text: str) -> int:
        """Keep `facts`; a single-valued kind (name, order number...) replaces the older value. Returns new rows."""
        added = 0
        now = utc_now()
        with self.store.transaction() as db:
            for fact in facts:
                where = "platform = ? and platform_user_id = ? and community = ? and kind = ?"
                params = [scope.platform, scope.platform_user_id, scope.community, fact.kind]
                if fact.kind in SINGLE_VALUED:
                    db.execute(f"delete from memory_facts where {where}", params)
                else:
                    db.execute(
                        f"delete from memory_facts where {where} and lower(value) = lower(?)", [*params, fact.value]
                    )
                db.table("memory_facts").insert(
                    {
                        "platform": scope.platform,
                        "platform_user_id": scope.platform_user_id,
                        "community": scope.community,
                        "kind": fact.kind,
                        "value": fact.value,
                        "language": fact.language,
                        "source_message_id": source_message_id,
                        "source_text": source_text[:500],
                        "created_at": now,
                    }
                )
                added += 1
            # A bounded memory: the oldest facts go first when someone keeps stating new ones.
            db.execute(
                """delete from memory_facts where platform = ? and platform_user_id = ? and community = ? and id not in
                   (select id from memory_facts where platform = ? and platform_user_id = ? and community = ?
                    order by id desc limit ?)""",
                [*_key(scope), *_key(scope), MAX_FACTS_PER_SCOPE],
            )
        return added

    def facts(self, scope: MemoryScope) -> list[StoredFact]:
        """This member's facts in this community, oldest first (the numbering `/memory` shows)."""
        rows = self.store.db.query(
            "select * from memory_facts where platform = ? and platform_user_id = ? and community = ? order by id",
            _key(scope),
        )
        return [
            StoredFact(
                id=row["id"],
                kind=row["kind"],
                value=row["value"],
                language=row["language"] or "en",
                source_message_id=row["source_message_id"],
                source_text=row["source_text"] or "",
                created_at=row["created_at"],
            )
            for row in rows
        ]

    def latest(self, scope: MemoryScope, kind: str) -> list[StoredFact]:
        """The facts of one kind, newest first."""
        return [fact for fact in reversed(self.facts(scope)) if fact.kind == kind]

    def forget(self, scope: MemoryScope, fact_id: int) -> bool:
        with self.store.transaction() as db:
            cursor = db.execute(
                "delete from memory_facts where id = ? and platform = ? and platform_user_id = ? and community = ?",
                [fact_id, *_key(scope)],
            )
            return cursor.rowcount == 1

    def forget_all(self, scope: MemoryScope) -> int:
        with self.store.transaction() as db:
            return int(
                db.execute(
                    "delete from memory_facts where platform = ? and platform_user_id = ? and community = ?",
                    _key(scope),
                ).rowcount
            )


def _key(scope: MemoryScope) -> list[str]:
    return [scope.platform, scope.platform_user_id, scope.community]
