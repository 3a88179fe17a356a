"""Scores the sentiment of stored member messages that have none yet, in batches, off the event loop.

It reads the backlog from the database rather than from the turn, so a message stored just before a crash,
one consumed by a guard route, or one stored while the model was loading is scored all the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.insight.repository import InsightRepository
from bot.insight.sentiment import SentimentModel
from bot.store import RECEIVED

log = logging.getLogger(__name__)

MODERATION_WAIT = timedelta(seconds=60)


class SentimentScorer:
    """Fills `insight_sentiment` for every unscored member message (call from a worker thread).

    A message whose turn is still running and that the gate has not flagged yet is left for the next pass
    (its offensive score is copied with the sentiment), unless it waited longer than `MODERATION_WAIT`.
    Scanning starts at a low-water mark (the oldest message left waiting), so a pass over a big database
    does not read it all again.
    """

    def __init__(
        self,
        repository: InsightRepository,
        model_loader: Callable[[], SentimentModel],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.repository = repository
        self._model_loader = model_loader
        self._model: SentimentModel | None = None
        self._now = now
        self._low_water = 0
        self._replies_from = 0

    @property
    def model(self) -> SentimentModel:
        if self._model is None:
            self._model = self._model_loader()
        return self._model

    def score_pending(self, batch_size: int = 128, max_batches: int = 20) -> int:
        """Score up to `batch_size * max_batches` waiting messages; returns how many were stored."""
        stored = 0
        cursor = self._low_water
        waiting: int | None = None
        oldest_wait = (self._now() - MODERATION_WAIT).isoformat()
        for _ in range(max_batches):
            pending = self.repository.unscored(cursor, batch_size)
            if not pending:
                break
            cursor = pending[-1].id + 1
            ready = []
            for message in pending:
                if (
                    message.text
                    and not message.moderated
                    and message.status == RECEIVED
                    and message.created_at > oldest_wait
                ):
                    waiting = message.id if waiting is None else waiting
                    continue
                ready.append(message)
            if ready:
                results = self.model.score_batch([message.text for message in ready])
                stored += self.repository.record(list(zip(ready, results, strict=True)), self.model.name)
            if len(pending) < batch_size:
                break
        self._low_water = waiting if waiting is not None else cursor
        _, self._replies_from = self.repository.record_replies(self._replies_from)
        return stored
