"""The confirmed getUpdates offset only ever passes updates that are finished."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from adapters.telegram.offsets import UpdateTracker


def test_fresh_tracker_asks_for_the_oldest_unconfirmed_update() -> None:
    assert UpdateTracker().next_offset is None
    assert UpdateTracker(41).next_offset == 42


def test_watermark_waits_for_the_slowest_earlier_update() -> None:
    tracker = UpdateTracker(10)
    for update_id in (11, 12, 13):
        tracker.begin(update_id)
    assert not tracker.finish(12)
    assert not tracker.finish(13)
    assert tracker.next_offset == 11
    assert tracker.is_known(12) and tracker.is_known(11)
    assert tracker.finish(11)
    assert tracker.handled_up_to == 13 and tracker.in_flight == 0


def test_ids_below_the_watermark_count_as_known() -> None:
    tracker = UpdateTracker(10)
    assert tracker.is_known(3) and not tracker.is_known(11)


@given(st.permutations(list(range(1, 30))))
def test_watermark_never_passes_an_unfinished_update(order: list[int]) -> None:
    tracker = UpdateTracker(0)
    for update_id in range(1, 30):
        tracker.begin(update_id)
    finished: set[int] = set()
    for update_id in order:
        tracker.finish(update_id)
        finished.add(update_id)
        assert tracker.handled_up_to is not None
        assert all(done in finished for done in range(1, tracker.handled_up_to + 1))
    assert tracker.handled_up_to == 29
