"""Stored drafts and their life cycle: draft -> approved -> scheduled -> posted, or rejected.

Editing an approved draft sends it back to `draft`, so what gets posted is always what someone approved.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.store import Store
from bot.suggest import SuggestError

DRAFT = "draft"
APPROVED = "approved"
SCHEDULED = "scheduled"
POSTED = "posted"
REJECTED = "rejected"
STATUSES = (DRAFT, APPROVED, SCHEDULED, POSTED, REJECTED)


@dataclass(frozen=True)
class Draft:
    """A proposed post, with how it was produced and what the moderation gate did to it."""

    id: int
    text: str
    status: str
    topic: str = ""
    angle: str = ""
    seed: int | None = None
    moderation_action: str = "allow"
    moderation_reasons: tuple[str, ...] = ()
    created_by: str = ""
    created_at: str = ""
    updated_at: str = ""

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Draft:
        moderation = json.loads(row["moderation"] or "{}")
        return cls(
            id=row["id"],
            text=row["text"],
            status=row["status"],
            topic=row["topic"] or "",
            angle=row["angle"] or "",
            seed=row["seed"],
            moderation_action=moderation.get("action", "allow"),
            moderation_reasons=tuple(moderation.get("reasons", ())),
            created_by=row["created_by"] or "",
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "topic": self.topic,
            "text": self.text,
            "angle": self.angle,
            "seed": self.seed,
            "moderation": {"action": self.moderation_action, "reasons": list(self.moderation_reasons)},
            "created_by": self.created_by,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def _now() -> str:
    return datetime.now(UTC).isoformat()


class DraftStore:
    """Reads and changes drafts in the bot's database; every change checks the current status first."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(
        self,
        text: str,
        topic: str = "",
        angle: str = "",
        seed: int | None = None,
        moderation_action: str = "allow",
        moderation_reasons: tuple[str, ...] = (),
        created_by: str = "",
    ) -> Draft:
        stamp = _now()
        row = {
            "topic": topic,
            "text": text,
            "status": DRAFT,
            "angle": angle,
            "seed": seed,
            "moderation": json.dumps({"action": moderation_action, "reasons": list(moderation_reasons)}),
            "created_by": created_by,
            "created_at": stamp,
            "updated_at": stamp,
        }
        with self.store.transaction() as db:
            cursor = db.execute(
                f"insert into drafts ({', '.join(row)}) values ({', '.join('?' for _ in row)})", list(row.values())
            )
            draft_id = int(cursor.lastrowid or 0)
        return self.get(draft_id)

    def get(self, draft_id: int) -> Draft:
        rows = list(self.store.db.query("select * from drafts where id = ?", [draft_id]))
        if not rows:
            raise SuggestError(f"there is no draft #{draft_id}")
        return Draft.from_row(rows[0])

    def list(self, statuses: tuple[str, ...] = (DRAFT, APPROVED, SCHEDULED), limit: int = 20) -> list[Draft]:
        marks = ", ".join("?" for _ in statuses)
        rows = self.store.db.query(
            f"select * from drafts where status in ({marks}) order by id desc limit ?", [*statuses, limit]
        )
        return [Draft.from_row(row) for row in rows]

    def _change(self, draft_id: int, allowed_from: tuple[str, ...], action: str, **values: Any) -> Draft:
        current = self.get(draft_id)
        if current.status not in allowed_from:
            raise SuggestError(f"draft #{draft_id} is {current.status}; it cannot be {action}")
        assignments = ", ".join(f"{name} = ?" for name in (*values, "updated_at"))
        with self.store.transaction() as db:
            cursor = db.execute(
                f"update drafts set {assignments} where id = ? and status = ?",
                [*values.values(), _now(), draft_id, current.status],
            )
            if cursor.rowcount != 1:
                raise SuggestError(f"draft #{draft_id} changed meanwhile; try again")
        return self.get(draft_id)

    def edit(self, draft_id: int, text: str) -> Draft:
        """Replace the text; an approved draft needs approving again."""
        if not text.strip():
            raise SuggestError("the new text is empty")
        return self._change(draft_id, (DRAFT, APPROVED, REJECTED), "edited", text=text.strip(), status=DRAFT)

    def approve(self, draft_id: int) -> Draft:
        return self._change(draft_id, (DRAFT,), "approved", status=APPROVED)

    def reject(self, draft_id: int) -> Draft:
        return self._change(draft_id, (DRAFT, APPROVED), "rejected", status=REJECTED)

    def mark_scheduled(self, draft_id: int) -> Draft:
        return self._change(draft_id, (APPROVED, SCHEDULED), "scheduled", status=SCHEDULED)

    def mark_posted(self, draft_id: int) -> None:
        with self.store.transaction() as db:
            db.execute(
                "update drafts set status = ?, updated_at = ? where id = ? and status in (?, ?)",
                [POSTED, _now(), draft_id, SCHEDULED, APPROVED],
            )

    def unschedule(self, draft_id: int) -> None:
        """A draft whose last schedule was cancelled goes back to approved."""
        with self.store.transaction() as db:
            db.execute(
                "update drafts set status = ?, updated_at = ? where id = ? and status = ?",
                [APPROVED, _now(), draft_id, SCHEDULED],
            )

    def delete(self, draft_id: int) -> None:
        """Remove a draft that no schedule uses (posted history keeps its own copy of the text)."""
        self.get(draft_id)
        with self.store.transaction() as db:
            db.execute("update schedules set draft_id = null where draft_id = ? and status != 'active'", [draft_id])
            used = next(db.query("select count(*) as n from schedules where draft_id = ?", [draft_id]))["n"]
            if used:
                raise SuggestError(f"draft #{draft_id} is used by an active schedule; cancel it first")
            db.execute("delete from drafts where id = ?", [draft_id])

    def forget_author(self, created_by: str) -> int:
        """Drop who created drafts (`platform:user_id`) when that person asks to be forgotten."""
        with self.store.transaction() as db:
            return int(db.execute("update drafts set created_by = '' where created_by = ?", [created_by]).rowcount)
