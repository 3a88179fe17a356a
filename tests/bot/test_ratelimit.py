"""Token buckets: a burst up to capacity passes, then exactly one notice, then silence until refilled."""

from __future__ import annotations

from bot.ratelimit import BucketPolicy, RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_burst_beyond_capacity_gets_one_notice_then_silence() -> None:
    limiter = RateLimiter(BucketPolicy(3, 6), clock=FakeClock())
    verdicts = [limiter.hit("u") for _ in range(10)]
    assert verdicts == ["allow"] * 3 + ["notify"] + ["silent"] * 6


def test_bucket_refills_over_time_and_a_new_flood_gets_a_new_notice() -> None:
    clock = FakeClock()
    limiter = RateLimiter(BucketPolicy(2, 6), clock=clock)  # one token every 10 s
    assert [limiter.hit("u") for _ in range(4)] == ["allow", "allow", "notify", "silent"]
    clock.now += 10
    assert limiter.peek("u")
    assert [limiter.hit("u") for _ in range(3)] == ["allow", "notify", "silent"]


def test_keys_are_independent_and_zero_capacity_means_unlimited() -> None:
    limiter = RateLimiter(BucketPolicy(1, 0), clock=FakeClock())
    assert [limiter.hit("a"), limiter.hit("b"), limiter.hit("a")] == ["allow", "allow", "notify"]
    unlimited = RateLimiter(BucketPolicy(0, 0))
    assert all(unlimited.hit("x") == "allow" for _ in range(1000))


def test_many_keys_do_not_grow_memory_without_bound() -> None:
    limiter = RateLimiter(BucketPolicy(5, 60), clock=FakeClock(), max_keys=100)
    for number in range(1000):
        limiter.hit(f"user-{number}")
    assert len(limiter._buckets) <= 100
