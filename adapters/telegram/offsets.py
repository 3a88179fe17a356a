"""Which fetched updates are handled, so the persisted getUpdates offset never skips an unhandled one."""

from __future__ import annotations


class UpdateTracker:
    """The highest update id at and below which every update is handled (the "watermark").

    Updates are handled concurrently across chats, so they finish out of order; the offset the bot
    confirms to Telegram (watermark + 1) only ever passes updates that are finished, and an update
    still in flight is fetched again after a crash instead of being lost.
    """

    def __init__(self, handled_up_to: int | None = None) -> None:
        self.handled_up_to = handled_up_to
        self._in_flight: set[int] = set()
        self._done_above: set[int] = set()
        self._highest_seen = handled_up_to

    @property
    def next_offset(self) -> int | None:
        """The getUpdates offset: the first update not yet known to be handled (None: from the oldest)."""
        return None if self.handled_up_to is None else self.handled_up_to + 1

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def is_known(self, update_id: int) -> bool:
        """True when the update is handled or being handled, so a re-fetched copy must be ignored."""
        below = self.handled_up_to is not None and update_id <= self.handled_up_to
        return below or update_id in self._in_flight or update_id in self._done_above

    def begin(self, update_id: int) -> None:
        self._in_flight.add(update_id)
        if self._highest_seen is None or update_id > self._highest_seen:
            self._highest_seen = update_id

    def finish(self, update_id: int) -> bool:
        """Mark the update handled; True when the watermark moved (and should be persisted)."""
        self._in_flight.discard(update_id)
        self._done_above.add(update_id)
        candidate = min(self._in_flight) - 1 if self._in_flight else self._highest_seen
        if candidate is None or (self.handled_up_to is not None and candidate <= self.handled_up_to):
            return False
        self.handled_up_to = candidate
        self._done_above = {done for done in self._done_above if done > candidate}
        return True
