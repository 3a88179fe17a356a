"""Audit log of admin actions: who did what to which target, when, with the state before and after.

Any feature can record an admin action with `record(...)`; rows are append-only and read back with
`recent(...)`. The `audit_log` table comes with the `rules` migration set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.store import Store, utc_now


@dataclass(frozen=True)
class AuditEntry:
    """One recorded admin action; `before`/`after` are the JSON-decoded states (None when absent)."""

    id: int
    actor: str
    action: str
    target: str
    before: Any
    after: Any
    created_at: str


def _encode(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def record(store: Store, actor: str, action: str, target: str, before: Any = None, after: Any = None) -> int:
    """Append one admin action; `actor` is e.g. `telegram:123` or `cli`, `action` e.g. `rules.add`."""
    with store.transaction() as db:
        table = db.table("audit_log")
        table.insert(
            {
                "actor": actor,
                "action": action,
                "target": target,
                "before": _encode(before),
                "after": _encode(after),
                "created_at": utc_now(),
            }
        )
        return int(table.last_pk or 0)


def recent(store: Store, limit: int = 50, action_prefix: str = "", actor: str = "") -> list[AuditEntry]:
    """The newest entries first, optionally only actions starting with `action_prefix` or by `actor`."""
    clauses, params = [], []
    if action_prefix:
        clauses.append("action like ? escape '\\'")
        params.append(action_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    if actor:
        clauses.append("actor = ?")
        params.append(actor)
    where = f"where {' and '.join(clauses)}" if clauses else ""
    rows = store.db.query(f"select * from audit_log {where} order by id desc limit ?", [*params, limit])
    return [
        AuditEntry(
            id=row["id"],
            actor=row["actor"],
            action=row["action"],
            target=row["target"] or "",
            before=json.loads(row["before"]) if row["before"] else None,
            after=json.loads(row["after"]) if row["after"] else None,
            created_at=row["created_at"],
        )
        for row in rows
    ]


def forget_actor(store: Store, actor: str) -> int:
    """Replace `actor` by `deleted-user` in the log (a person's data deletion keeps the record of the action)."""
    with store.transaction() as db:
        return int(db.execute("update audit_log set actor = 'deleted-user' where actor = ?", [actor]).rowcount)
