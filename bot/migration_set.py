"""`MigrationSet`: numbered schema steps of one feature, applied once each and recorded in `_migrations`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlite_utils

MigrationStep = Callable[[sqlite_utils.Database], None]


@dataclass
class MigrationSet:
    """The ordered schema steps of one feature (core, kb, rules, ...)."""

    name: str
    steps: list[tuple[str, MigrationStep]] = field(default_factory=list)

    def __call__(self, step: MigrationStep) -> MigrationStep:
        """Register `step` as this set's next migration (use as a decorator)."""
        self.steps.append((step.__name__, step))
        return step

    def apply(self, db: sqlite_utils.Database) -> list[str]:
        """Apply the steps not yet recorded; returns the names applied now."""
        ensure_migrations_table(db)
        done = {row["name"] for row in db.query("select name from _migrations where migration_set = ?", [self.name])}
        applied = []
        for name, step in self.steps:
            if name in done:
                continue
            with db.conn:
                step(db)
                db.table("_migrations").insert(
                    {"migration_set": self.name, "name": name, "applied_at": datetime.now(UTC).isoformat()}
                )
            applied.append(f"{self.name}:{name}")
        return applied


def ensure_migrations_table(db: sqlite_utils.Database) -> None:
    if not db.table("_migrations").exists():
        db.table("_migrations").create(
            {"migration_set": str, "name": str, "applied_at": str}, pk=("migration_set", "name")
        )
