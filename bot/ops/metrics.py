"""Prometheus metrics computed at scrape time from the database and the engine's public counters.

Nothing in the message path is instrumented: messages in/out, reply latency, moderation decisions, delivery
failures and the scheduler backlog are counted from what the bot already stores, with a read-only connection
of the collector's own (WAL lets it read while the bot writes). Engine load and KV-cache use come from the
engine's `stats()` snapshot. A query whose table or column another version lacks is skipped, not fatal.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.engine.base import EngineStats

log = logging.getLogger(__name__)

LATENCY_BUCKETS_S = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 120.0)
MAX_LABEL_CHARS = 64
# Assistant rows still owed to their platform (bot/store.py statuses).
OWED_STATUSES = ("pending_send", "failed")


class StatsSource(Protocol):
    """An engine that reports its load (TransformersEngine, OpenAIEngine)."""

    def stats(self) -> EngineStats: ...


def _label(value: object) -> str:
    text = "" if value is None else str(value)
    return text[:MAX_LABEL_CHARS]


class DatabaseCollector(Collector):
    """Counts from the bot's tables, read at each scrape."""

    def __init__(self, database: Path) -> None:
        self.database = database

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(f"{self.database.resolve().as_uri()}?mode=ro", uri=True, timeout=2)

    def collect(self) -> Iterator[Metric]:
        if str(self.database) == ":memory:" or not self.database.exists():
            return
        try:
            connection = self._connect()
        except sqlite3.Error as exc:
            log.warning("metrics: cannot open %s: %s", self.database, exc)
            return
        with closing(connection):
            for family in (self._messages, self._latency, self._moderation, self._scheduler):
                try:
                    yield from family(connection)
                except sqlite3.OperationalError as exc:  # a table or column this database lacks
                    log.debug("metrics: %s skipped: %s", family.__name__, exc)

    def _messages(self, db: sqlite3.Connection) -> Iterator[Metric]:
        rows = db.execute(
            """select c.platform, m.role, m.status, count(*), coalesce(sum(m.delivery_attempts), 0),
                      coalesce(sum(max(m.delivery_attempts - 1, 0)), 0)
               from messages m join conversations c on c.id = m.conversation_id
               group by c.platform, m.role, m.status"""
        ).fetchall()
        received = CounterMetricFamily(
            "socialbot_messages_received", "Messages received from users, per platform.", labels=["platform"]
        )
        sent = CounterMetricFamily(
            "socialbot_messages_sent", "Bot messages confirmed delivered, per platform.", labels=["platform"]
        )
        owed = GaugeMetricFamily(
            "socialbot_delivery_owed_messages",
            "Bot messages stored but not yet delivered (pending or failed), per platform.",
            labels=["platform"],
        )
        failures = CounterMetricFamily(
            "socialbot_delivery_failures",
            "Failed delivery attempts of bot messages, per platform.",
            labels=["platform"],
        )
        retries = CounterMetricFamily(
            "socialbot_delivery_retries", "Delivery attempts after the first, per platform.", labels=["platform"]
        )
        totals: dict[str, dict[str, int]] = {}
        for platform, role, status, count, attempts, extra_attempts in rows:
            entry = totals.setdefault(_label(platform), {"in": 0, "out": 0, "owed": 0, "failed": 0, "retries": 0})
            if role == "user":
                entry["in"] += count
            elif role == "assistant":
                if status == "sent":
                    entry["out"] += count
                    entry["failed"] += attempts - count  # every attempt before the successful one failed
                else:
                    entry["failed"] += attempts
                if status in OWED_STATUSES:
                    entry["owed"] += count
                entry["retries"] += extra_attempts
        for platform, entry in sorted(totals.items()):
            received.add_metric([platform], entry["in"])
            sent.add_metric([platform], entry["out"])
            owed.add_metric([platform], entry["owed"])
            failures.add_metric([platform], max(0, entry["failed"]))
            retries.add_metric([platform], entry["retries"])
        yield from (received, sent, owed, failures, retries)

    def _latency(self, db: sqlite3.Connection) -> Iterator[Metric]:
        """Seconds from a stored user message to the stored reply to it (the reply's first row)."""
        bucket_sql = ", ".join(f"sum(latency <= {edge})" for edge in LATENCY_BUCKETS_S)
        rows = db.execute(
            f"""with replies as (
                    select c.platform as platform,
                           min((julianday(a.created_at) - julianday(u.created_at)) * 86400.0) as latency
                    from messages a
                    join messages u on u.conversation_id = a.conversation_id and u.role = 'user'
                         and u.platform_message_id = a.reply_to_message_id and u.id < a.id
                    join conversations c on c.id = a.conversation_id
                    where a.role = 'assistant' and a.reply_to_message_id != ''
                    group by u.id
                )
                select platform, count(*), coalesce(sum(latency), 0), {bucket_sql}
                from replies where latency >= 0 group by platform"""
        ).fetchall()
        family = HistogramMetricFamily(
            "socialbot_reply_latency_seconds",
            "Seconds from storing a user's message to storing the bot's reply to it, per platform.",
            labels=["platform"],
        )
        for platform, count, total, *cumulative in rows:
            buckets = [(str(edge), int(n or 0)) for edge, n in zip(LATENCY_BUCKETS_S, cumulative, strict=True)]
            family.add_metric([_label(platform)], [*buckets, ("+Inf", int(count))], float(total))
        yield family

    def _moderation(self, db: sqlite3.Connection) -> Iterator[Metric]:
        rows = db.execute(
            """select d.direction, d.decision, coalesce(r.value, 'none'), count(*)
               from moderation_decisions d
               left join json_each(case when json_valid(d.reasons) then d.reasons else '[]' end) r
               group by 1, 2, 3"""
        ).fetchall()
        family = CounterMetricFamily(
            "socialbot_moderation_decisions",
            "Moderation decisions by direction (in/out), decision and reason ('none' when no reason).",
            labels=["direction", "decision", "reason"],
        )
        for direction, decision, reason, count in rows:
            family.add_metric([_label(direction), _label(decision), _label(reason)], count)
        yield family

    def _scheduler(self, db: sqlite3.Connection) -> Iterator[Metric]:
        rows = db.execute("select state, count(*), coalesce(sum(attempts), 0) from posts group by state").fetchall()
        by_state = GaugeMetricFamily("socialbot_scheduled_posts", "Scheduled posts by state.", labels=["state"])
        attempts = CounterMetricFamily("socialbot_scheduled_post_attempts", "Delivery attempts of scheduled posts.")
        for state, count, _tries in rows:
            by_state.add_metric([_label(state)], count)
        attempts.add_metric([], sum(int(tries) for _, _, tries in rows))
        now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        (due,) = db.execute(
            """select count(*) from posts where state in ('pending', 'sending')
               and julianday(coalesce(nullif(not_before, ''), slot_time)) <= julianday(?)""",
            [now + "+00:00"],
        ).fetchone()
        backlog = GaugeMetricFamily(
            "socialbot_scheduler_backlog", "Scheduled posts whose time has come and that are not sent yet."
        )
        backlog.add_metric([], due)
        yield from (by_state, attempts, backlog)


class EngineCollector(Collector):
    """The engine's queue, throughput and KV-cache use, from its `stats()` snapshot."""

    def __init__(self, engine: StatsSource, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self._clock = clock
        self._lock = threading.Lock()
        self._last: tuple[float, int] | None = None

    def _tokens_per_second(self, generated: int) -> float:
        now = self._clock()
        with self._lock:
            last, self._last = self._last, (now, generated)
        if last is None or now <= last[0] or generated < last[1]:
            return 0.0
        return (generated - last[1]) / (now - last[0])

    def collect(self) -> Iterator[Metric]:
        stats = self.engine.stats()
        labels = [stats.backend]

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(name, doc, labels=["backend"])
            family.add_metric(labels, value)
            return family

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            family = CounterMetricFamily(name, doc, labels=["backend"])
            family.add_metric(labels, value)
            return family

        yield gauge("socialbot_engine_up", "1 while the engine's worker (or HTTP session) is alive.", stats.alive)
        yield gauge("socialbot_engine_running_requests", "Requests generating now.", stats.running)
        yield gauge("socialbot_engine_queue_depth", "Requests waiting for a generation slot.", stats.queued)
        yield gauge(
            "socialbot_engine_capacity", "Requests in flight beyond which new ones get the busy reply.", stats.capacity
        )
        yield counter("socialbot_engine_generated_tokens", "Tokens generated since start.", stats.generated_tokens)
        yield counter("socialbot_engine_completed_requests", "Requests finished since start.", stats.completed_requests)
        yield gauge(
            "socialbot_engine_tokens_per_second",
            "Tokens generated per second since the previous scrape (rate() of the counter is steadier).",
            self._tokens_per_second(stats.generated_tokens),
        )
        if stats.kv_budget_bytes is not None:
            yield gauge(
                "socialbot_kv_pool_budget_bytes", "Memory allowed for cached keys/values.", stats.kv_budget_bytes
            )
            yield gauge(
                "socialbot_kv_pool_active_bytes", "Keys/values of sequences generating now.", stats.kv_bytes_active or 0
            )
            yield gauge(
                "socialbot_kv_pool_idle_bytes", "Keys/values kept for idle conversations.", stats.kv_bytes_idle or 0
            )
            yield gauge(
                "socialbot_kv_pool_entries", "Idle conversations with cached keys/values.", stats.kv_entries or 0
            )
            yield counter("socialbot_kv_pool_hits", "Turns that reused a conversation's cache.", stats.kv_hits or 0)
            yield counter(
                "socialbot_kv_pool_misses", "Turns that computed their prompt from scratch.", stats.kv_misses or 0
            )
            yield counter(
                "socialbot_kv_pool_evictions", "Idle caches evicted to stay in budget.", stats.kv_evictions or 0
            )


def build_registry(database: Path, engine: object) -> CollectorRegistry:
    """A registry of its own (not the process-global one), so several bots or tests never collide."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(database))
    if callable(getattr(engine, "stats", None)):
        registry.register(EngineCollector(engine))  # type: ignore[arg-type]
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text exposition of every collector (blocking: call it off the event loop)."""
    return generate_latest(registry)
