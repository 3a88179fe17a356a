"""Alerts for the staff: what changed in a chat in the last hours, against that chat's own recent past.

Four checks per chat, each over the recent window (`alert_window_hours`) and the baseline before it
(`baseline_days`): a negative-sentiment spike, a toxicity surge, a burst of the same question from several
members, and declined or handed-off questions piling up. An alert of one kind for one chat is sent at most
once per `alert_cooldown_hours` (recorded in `insight_alerts`), and names example messages with their ids.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from bot.insight.repository import InsightRepository
from bot.insight.settings import InsightSection
from bot.store import Store

Embed = Callable[[Sequence[str]], NDArray[np.float32]]

NEGATIVE_SPIKE = "negative_spike"
TOXICITY_SURGE = "toxicity_surge"
QUESTION_BURST = "question_burst"
UNANSWERED = "unanswered_questions"


@dataclass(frozen=True)
class ExampleMessage:
    """A message an alert points at: its stored id (`socialbot` looks it up by id) and its text."""

    message_id: int
    text: str


@dataclass(frozen=True)
class Alert:
    """One alert about one chat, with the figures that triggered it and example messages.

    `alert_id` is its row in `insight_alerts` once recorded: the staff look it up with
    `socialbot insights show ALERT_ID` (the chat, the figures and each example message with its time).
    """

    kind: str
    chat: str
    conversation_id: int
    summary: str
    examples: tuple[ExampleMessage, ...]
    alert_id: int = 0

    def render(self) -> str:
        lines = [f"[insight] {self.chat}: {self.summary}"]
        lines.extend(f"  #{example.message_id}: {example.text[:160]}" for example in self.examples)
        if self.alert_id:
            lines.append(f"  details: alert {self.alert_id} (socialbot insights show {self.alert_id})")
        return "\n".join(lines)


@dataclass(frozen=True)
class _WindowShare:
    count: int
    hits: int

    @property
    def share(self) -> float:
        return self.hits / self.count if self.count else 0.0


class AlertMonitor:
    """Runs the four checks for every chat with recent messages; `check(now)` returns the alerts to send now."""

    def __init__(self, store: Store, settings: InsightSection, embed: Embed | None = None) -> None:
        self.store = store
        self.settings = settings
        self.repository = InsightRepository(store)
        self.embed = embed

    def check(self, now: datetime) -> list[Alert]:
        """Alerts due at `now`, already recorded as sent (so a second call does not repeat them)."""
        window_start = now - timedelta(hours=self.settings.alert_window_hours)
        baseline_start = window_start - timedelta(days=self.settings.baseline_days)
        alerts: list[Alert] = []
        for conversation_id, chat in self._active_conversations(window_start, now):
            found = [
                self._negative_spike(conversation_id, chat, baseline_start, window_start, now),
                self._toxicity_surge(conversation_id, chat, baseline_start, window_start, now),
                self._question_burst(conversation_id, chat, window_start, now),
                self._unanswered(conversation_id, chat, window_start, now),
            ]
            for alert in found:
                if alert is not None and self._due(alert, now):
                    alert_id = self.repository.record_alert(
                        alert.kind,
                        conversation_id,
                        now.isoformat(),
                        alert.summary,
                        [example.message_id for example in alert.examples],
                    )
                    alerts.append(replace(alert, alert_id=alert_id))
        return alerts

    # the checks ---------------------------------------------------------------------------------------

    def _negative_spike(
        self, conversation_id: int, chat: str, baseline_start: datetime, window_start: datetime, now: datetime
    ) -> Alert | None:
        condition = "s.label = 'negative'"
        window = self._share(conversation_id, condition, window_start, now, scored_only=True)
        baseline = self._share(conversation_id, condition, baseline_start, window_start, scored_only=True)
        settings = self.settings
        if window.count < settings.min_window_messages or window.share < settings.negative_spike_min_share:
            return None
        if baseline.count and window.share < settings.negative_spike_ratio * baseline.share:
            return None
        summary = (
            f"negative sentiment spike: {window.share:.0%} of {window.count} messages in the last "
            f"{settings.alert_window_hours:g} h were negative (baseline {baseline.share:.0%} of {baseline.count})"
        )
        examples = self._examples(conversation_id, condition, window_start, now, "s.negative desc")
        return Alert(NEGATIVE_SPIKE, chat, conversation_id, summary, examples)

    def _toxicity_surge(
        self, conversation_id: int, chat: str, baseline_start: datetime, window_start: datetime, now: datetime
    ) -> Alert | None:
        condition = f"json_extract(d.scores, '$.offensive') >= {float(self.settings.toxic_threshold)!r}"
        window = self._share(conversation_id, condition, window_start, now)
        baseline = self._share(conversation_id, condition, baseline_start, window_start)
        settings = self.settings
        if window.count < settings.min_window_messages or window.share < settings.toxicity_surge_min_share:
            return None
        if baseline.count and window.share < settings.toxicity_surge_ratio * baseline.share:
            return None
        summary = (
            f"toxicity surge: {window.hits} of {window.count} messages in the last {settings.alert_window_hours:g} h "
            f"were offensive ({window.share:.0%}; baseline {baseline.share:.0%} of {baseline.count})"
        )
        examples = self._examples(
            conversation_id, condition, window_start, now, "json_extract(d.scores, '$.offensive') desc"
        )
        return Alert(TOXICITY_SURGE, chat, conversation_id, summary, examples)

    def _question_burst(self, conversation_id: int, chat: str, window_start: datetime, now: datetime) -> Alert | None:
        if self.embed is None:
            return None
        rows = list(
            self.store.db.query(
                """select m.id, m.text, m.user_id from messages m left join users u on u.id = m.user_id
                   where m.conversation_id = ? and m.role = 'user' and coalesce(u.is_bot, 0) = 0
                   and m.created_at >= ? and m.created_at < ? and m.text like '%?%' order by m.id limit 500""",
                [conversation_id, window_start.isoformat(), now.isoformat()],
            )
        )
        if len(rows) < self.settings.question_burst_count:
            return None
        vectors = self.embed([str(row["text"]) for row in rows])
        similar = vectors @ vectors.T >= self.settings.question_similarity
        best: list[int] = []
        for index in range(len(rows)):
            members = [int(other) for other in np.flatnonzero(similar[index])]
            askers = {rows[other]["user_id"] for other in members}
            if len(askers) >= self.settings.question_burst_count and len(members) > len(best):
                best = members
        if not best:
            return None
        asker_count = len({rows[index]["user_id"] for index in best})
        summary = (
            f"the same question was asked {len(best)} times by {asker_count} members in the last "
            f'{self.settings.alert_window_hours:g} h: "{str(rows[best[0]]["text"])[:120]}"'
        )
        examples = tuple(ExampleMessage(int(rows[index]["id"]), str(rows[index]["text"])) for index in best[:3])
        return Alert(QUESTION_BURST, chat, conversation_id, summary, examples)

    def _unanswered(self, conversation_id: int, chat: str, window_start: datetime, now: datetime) -> Alert | None:
        rows = list(
            self.store.db.query(
                """select q.id, q.text from messages a
                   join messages q on q.conversation_id = a.conversation_id and q.role = 'user'
                        and a.reply_to_message_id != '' and q.platform_message_id = a.reply_to_message_id
                   where a.conversation_id = ? and a.role = 'assistant'
                   and json_extract(a.details, '$.outcome') in ('declined', 'handoff')
                   and a.created_at >= ? and a.created_at < ? order by a.id""",
                [conversation_id, window_start.isoformat(), now.isoformat()],
            )
        )
        if len(rows) < self.settings.unanswered_count:
            return None
        summary = (
            f"{len(rows)} questions in the last {self.settings.alert_window_hours:g} h were declined or handed "
            "off (the knowledge base may lack an answer: see `socialbot kb gaps`)"
        )
        examples = tuple(ExampleMessage(int(row["id"]), str(row["text"])) for row in rows[-3:])
        return Alert(UNANSWERED, chat, conversation_id, summary, examples)

    # helpers ------------------------------------------------------------------------------------------

    def _due(self, alert: Alert, now: datetime) -> bool:
        last = self.repository.last_alert_at(alert.kind, alert.conversation_id)
        if last is None:
            return True
        return datetime.fromisoformat(last) <= now - timedelta(hours=self.settings.alert_cooldown_hours)

    def _active_conversations(self, since: datetime, until: datetime) -> list[tuple[int, str]]:
        rows = self.store.db.query(
            """select distinct c.id, c.platform || ':' || c.chat_id as chat from messages m
               join conversations c on c.id = m.conversation_id
               where m.role = 'user' and m.created_at >= ? and m.created_at < ? order by c.id""",
            [since.isoformat(), until.isoformat()],
        )
        return [(int(row["id"]), str(row["chat"])) for row in rows]

    def _share(
        self, conversation_id: int, condition: str, since: datetime, until: datetime, scored_only: bool = False
    ) -> _WindowShare:
        scored = "and s.message_id is not null" if scored_only else ""
        row = next(
            iter(
                self.store.db.query(
                    f"""select count(*) as total, coalesce(sum({condition}), 0) as hits
                        from messages m left join users u on u.id = m.user_id
                        left join insight_sentiment s on s.message_id = m.id
                        left join moderation_decisions d on d.message_id = m.id and d.direction = 'in'
                        where m.conversation_id = ? and m.role = 'user' and coalesce(u.is_bot, 0) = 0
                        and m.created_at >= ? and m.created_at < ? {scored}""",
                    [conversation_id, since.isoformat(), until.isoformat()],
                )
            )
        )
        return _WindowShare(int(row["total"]), int(row["hits"]))

    def _examples(
        self, conversation_id: int, condition: str, since: datetime, until: datetime, order: str
    ) -> tuple[ExampleMessage, ...]:
        rows = self.store.db.query(
            f"""select m.id, m.text from messages m
                left join insight_sentiment s on s.message_id = m.id
                left join moderation_decisions d on d.message_id = m.id and d.direction = 'in'
                where m.conversation_id = ? and m.role = 'user' and m.created_at >= ? and m.created_at < ?
                and {condition} order by {order} limit 3""",
            [conversation_id, since.isoformat(), until.isoformat()],
        )
        return tuple(ExampleMessage(int(row["id"]), str(row["text"])) for row in rows)


def alert_message_ids(raw: str) -> list[int]:
    """The example ids stored with a recorded alert."""
    return [int(value) for value in json.loads(raw or "[]")]
