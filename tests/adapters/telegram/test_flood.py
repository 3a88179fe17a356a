"""Flood control: message pacing per chat, per group and overall; 429 waits; network retries."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from telegram import error as tg_error

from adapters.telegram.flood import FloodControl, FloodLimits, RateWindow, is_message_endpoint

FAST = FloodLimits(
    messages_per_s=0,
    chat_interval_s=0,
    group_messages_per_min=0,
    max_retries=2,
    network_retries=2,
    network_backoff_s=0.01,
)


async def test_rate_window_lets_a_burst_through_then_spaces_the_rest() -> None:
    window = RateWindow(3, 0.2)
    started = time.monotonic()
    for _ in range(3):
        await window.acquire()
    assert time.monotonic() - started < 0.1
    await window.acquire()
    assert time.monotonic() - started >= 0.19


async def test_disabled_window_never_waits() -> None:
    window = RateWindow.per_second(0)
    started = time.monotonic()
    for _ in range(100):
        await window.acquire()
    assert not window.enabled and time.monotonic() - started < 0.05


def test_fractional_rates_become_one_event_per_interval() -> None:
    window = RateWindow.per_second(0.5)
    assert (window.max_events, window.period_s) == (1, 2.0)


def test_typing_actions_and_lookups_are_not_paced_but_messages_are() -> None:
    assert is_message_endpoint("sendMessage") and is_message_endpoint("copyMessage")
    assert not is_message_endpoint("sendChatAction") and not is_message_endpoint("getChatAdministrators")


class Calls:
    """A Bot API call that fails with the given errors first, then succeeds, recording when it ran."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.times: list[float] = []

    async def __call__(self) -> dict[str, Any]:
        self.times.append(time.monotonic())
        if self.errors:
            raise self.errors.pop(0)
        return {"ok": True}


async def run(
    flood: FloodControl, call: Calls, endpoint: str = "sendMessage", chat_id: Any = 5, retries: int | None = None
) -> Any:
    return await flood.process_request(call, (), {}, endpoint, {"chat_id": chat_id}, retries)


async def test_same_chat_is_paced_other_chats_are_not() -> None:
    flood = FloodControl(FloodLimits(messages_per_s=0, chat_interval_s=0.15, group_messages_per_min=0))
    first, second, other = Calls(), Calls(), Calls()
    await asyncio.gather(run(flood, first), run(flood, second), run(flood, other, chat_id=6))
    assert second.times[0] - first.times[0] >= 0.14
    assert other.times[0] - first.times[0] < 0.1


async def test_group_budget_applies_to_negative_chat_ids() -> None:
    flood = FloodControl(FloodLimits(messages_per_s=0, chat_interval_s=0, group_messages_per_min=2))
    calls = [Calls() for _ in range(2)]
    await asyncio.gather(*(run(flood, call, chat_id=-100) for call in calls))
    waiting = asyncio.ensure_future(run(flood, Calls(), chat_id=-100))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # the third message in a minute waits
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_429_waits_retry_after_then_succeeds() -> None:
    flood = FloodControl(FAST)
    call = Calls(tg_error.RetryAfter(1))
    assert await run(flood, call) == {"ok": True}
    assert len(call.times) == 2 and call.times[1] - call.times[0] >= 0.99


async def test_429_beyond_max_retries_is_raised() -> None:
    flood = FloodControl(FloodLimits(**{**FAST.__dict__, "max_retries": 0}))
    with pytest.raises(tg_error.RetryAfter):
        await run(flood, Calls(tg_error.RetryAfter(1)))


async def test_network_errors_are_retried_with_backoff() -> None:
    flood = FloodControl(FAST)
    call = Calls(tg_error.NetworkError("Bad Gateway"), tg_error.NetworkError("Bad Gateway"))
    assert await run(flood, call) == {"ok": True}
    assert len(call.times) == 3


async def test_bad_request_and_forbidden_are_not_retried() -> None:
    flood = FloodControl(FAST)
    for error in (tg_error.BadRequest("Chat not found"), tg_error.Forbidden("bot was blocked by the user")):
        call = Calls(error)
        with pytest.raises(type(error)):
            await run(flood, call)
        assert len(call.times) == 1


async def test_timed_out_send_is_not_repeated_but_other_calls_are() -> None:
    flood = FloodControl(FAST)
    send = Calls(tg_error.TimedOut())
    with pytest.raises(tg_error.TimedOut):
        await run(flood, send)
    lookup = Calls(tg_error.TimedOut())
    assert await run(flood, lookup, endpoint="getChatAdministrators") == {"ok": True}


async def test_rate_limit_args_zero_means_a_single_attempt() -> None:
    flood = FloodControl(FAST)
    call = Calls(tg_error.NetworkError("down"))
    with pytest.raises(tg_error.NetworkError):
        await run(flood, call, endpoint="sendChatAction", retries=0)
    assert len(call.times) == 1
