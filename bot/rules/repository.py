"""Rules in SQLite: add, change, delete, import and export, each change audited and versioned.

Every change bumps `rules:version` in the `state` table inside the same transaction, so a running bot (or
another process) knows cheaply when to rebuild its index.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from bot import audit
from bot.rules.model import Rule, RuleError, validate
from bot.store import Store, utc_now

VERSION_KEY = "rules:version"


def _row_to_rule(row: dict[str, Any]) -> Rule:
    return Rule(
        id=row["id"],
        name=row["name"] or "",
        trigger_kind=row["trigger_kind"],
        patterns=tuple(json.loads(row["patterns"])),
        match_mode=row["match_mode"] or "any",
        threshold=row["threshold"],
        response_kind=row["response_kind"],
        response=row["response"],
        platform=row["platform"] or "",
        chats=tuple(json.loads(row["chats"] or "[]")),
        priority=row["priority"] or 0,
        cooldown_s=row["cooldown_s"],
        enabled=bool(row["enabled"]),
        created_by=row["created_by"] or "",
        created_at=row["created_at"] or "",
        updated_at=row["updated_at"] or "",
    )


def _rule_to_row(rule: Rule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "trigger_kind": rule.trigger_kind,
        "patterns": json.dumps(list(rule.patterns), ensure_ascii=False),
        "match_mode": rule.match_mode,
        "threshold": rule.threshold,
        "response_kind": rule.response_kind,
        "response": rule.response,
        "platform": rule.platform,
        "chats": json.dumps(list(rule.chats), ensure_ascii=False),
        "priority": rule.priority,
        "cooldown_s": rule.cooldown_s,
        "enabled": int(rule.enabled),
    }


class RuleRepository:
    """The stored rules; every write is validated, audited (who, before, after) and bumps the version."""

    def __init__(self, store: Store, max_rules: int = 5000) -> None:
        self.store = store
        self.max_rules = max_rules

    def version(self) -> int:
        return int(self.store.get_state(VERSION_KEY, "0") or 0)

    def _bump(self, db: Any) -> None:
        db.execute(
            "insert into state (key, value, updated_at) values (?, '1', ?) "
            "on conflict(key) do update set value = cast(value as integer) + 1, updated_at = excluded.updated_at",
            [VERSION_KEY, utc_now()],
        )

    def get(self, rule_id: int) -> Rule | None:
        rows = list(self.store.db.query("select * from rules where id = ?", [rule_id]))
        return _row_to_rule(rows[0]) if rows else None

    def require(self, rule_id: int) -> Rule:
        rule = self.get(rule_id)
        if rule is None:
            raise RuleError(f"there is no rule #{rule_id} (see the list of rules)")
        return rule

    def all(self) -> list[Rule]:
        return [_row_to_rule(row) for row in self.store.db.query("select * from rules order by id")]

    def count(self) -> int:
        return int(next(self.store.db.query("select count(*) as n from rules"))["n"])

    def add(self, rule: Rule, actor: str) -> Rule:
        rule = validate(rule)
        if self.count() >= self.max_rules:
            raise RuleError(f"there are already {self.max_rules} rules; delete some first")
        now = utc_now()
        with self.store.transaction() as db:
            table = db.table("rules")
            table.insert({**_rule_to_row(rule), "created_by": actor, "created_at": now, "updated_at": now})
            saved = replace(
                rule,
                id=int(table.last_pk or 0),
                created_by=actor,
                created_at=now,  # type: ignore[attr-defined]
                updated_at=now,
            )
            self._bump(db)
        audit.record(self.store, actor, "rules.add", f"rule:{saved.id}", None, saved.to_dict())
        return saved

    def update(self, rule: Rule, actor: str) -> Rule:
        before = self.require(rule.id)
        rule = validate(rule)
        now = utc_now()
        with self.store.transaction() as db:
            db.table("rules").update(rule.id, {**_rule_to_row(rule), "updated_at": now})
            self._bump(db)
        audit.record(self.store, actor, "rules.edit", f"rule:{rule.id}", before.to_dict(), rule.to_dict())
        return replace(rule, created_by=before.created_by, created_at=before.created_at, updated_at=now)

    def set_enabled(self, rule_id: int, enabled: bool, actor: str) -> Rule:
        return self.update(replace(self.require(rule_id), enabled=enabled), actor)

    def delete(self, rule_id: int, actor: str) -> Rule:
        before = self.require(rule_id)
        with self.store.transaction() as db:
            db.execute("delete from rules where id = ?", [rule_id])
            self._bump(db)
        audit.record(self.store, actor, "rules.delete", f"rule:{rule_id}", before.to_dict(), None)
        return before

    def export(self) -> list[dict[str, Any]]:
        """All rules in portable form (with ids, so an import can update them in place)."""
        return [{"id": rule.id, **rule.to_dict()} for rule in self.all()]

    def import_rules(self, items: Any, actor: str, replace_all: bool = False) -> tuple[int, int]:
        """Add (or, with `replace_all`, swap in) rules from their portable form; all or nothing.

        Returns (added, removed). Every item is validated before anything is written; an error names the item.
        """
        if isinstance(items, dict) and "rules" in items:
            items = items["rules"]
        if not isinstance(items, list):
            raise RuleError("the file must hold a list of rules (or a mapping with a 'rules' list)")
        parsed = []
        for number, item in enumerate(items, start=1):
            try:
                parsed.append(Rule.from_dict(item))
            except RuleError as exc:
                raise RuleError(f"rule {number}: {exc}") from None
        existing = self.count()
        if (0 if replace_all else existing) + len(parsed) > self.max_rules:
            raise RuleError(f"importing {len(parsed)} rules would exceed the limit of {self.max_rules}")
        now = utc_now()
        with self.store.transaction() as db:
            removed = db.execute("delete from rules").rowcount if replace_all else 0
            db.table("rules").insert_all(
                [{**_rule_to_row(rule), "created_by": actor, "created_at": now, "updated_at": now} for rule in parsed]
            )
            self._bump(db)
        audit.record(
            self.store,
            actor,
            "rules.import",
            "rules",
            {"replaced": removed} if replace_all else None,
            {"added": len(parsed)},
        )
        return len(parsed), int(removed)
