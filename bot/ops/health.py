"""The health report behind /healthz: ready, platforms connected, engine alive, database writable."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from bot.engine.base import EngineStats


@dataclass(frozen=True)
class HealthReport:
    """What a load balancer or `HEALTHCHECK` asks; `healthy` is all of them at once."""

    ready: bool
    platforms_expected: tuple[str, ...]
    platforms_connected: tuple[str, ...]
    engine_alive: bool
    database_writable: bool
    database_error: str = ""

    @property
    def healthy(self) -> bool:
        platforms_ok = set(self.platforms_expected) <= set(self.platforms_connected)
        return self.ready and platforms_ok and self.engine_alive and self.database_writable

    def as_dict(self) -> dict[str, object]:
        return {"healthy": self.healthy, **asdict(self)}


def database_writable(database: Path, timeout_s: float = 1.0) -> tuple[bool, str]:
    """Whether a write transaction can begin (lock acquired, file writable); nothing is written."""
    if str(database) == ":memory:":
        return True, ""
    try:
        connection = sqlite3.connect(database, timeout=timeout_s, isolation_level=None)
        try:
            connection.execute("begin immediate")
            connection.execute("rollback")
        finally:
            connection.close()
    except sqlite3.Error as exc:
        return False, str(exc)
    return True, ""


def health_report(
    ready: bool,
    expected_platforms: Collection[str],
    senders: Mapping[str, object],
    engine_stats: EngineStats | None,
    database: Path,
) -> HealthReport:
    """Assemble the report; an engine without `stats()` (a test double) counts as alive once ready."""
    writable, error = database_writable(database)
    return HealthReport(
        ready=ready,
        platforms_expected=tuple(sorted(expected_platforms)),
        platforms_connected=tuple(sorted(senders)),
        engine_alive=engine_stats.alive if engine_stats is not None else ready,
        database_writable=writable,
        database_error=error,
    )
