"""Token-bucket rate limiting that tells the caller when to send its one polite notice.

Each key (a user, a chat) has a bucket of `capacity` tokens refilled at `refill_per_minute`. A message
spends one token. The first message refused after the bucket runs dry is marked `notify`; later ones are
refused silently until a token is available again, so a flooding user gets one notice, not one per message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["allow", "notify", "silent"]


@dataclass(frozen=True)
class BucketPolicy:
    """How many messages a burst may hold (`capacity`) and how fast tokens come back."""

    capacity: float
    refill_per_minute: float

    @property
    def unlimited(self) -> bool:
        return self.capacity <= 0


@dataclass
class _Bucket:
    tokens: float
    updated_at: float
    notified: bool = False


class RateLimiter:
    """Buckets by key under one policy; thread-safe, in memory, idle buckets are dropped when full again."""

    def __init__(
        self, policy: BucketPolicy, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def _refill(self, bucket: _Bucket, now: float) -> None:
        elapsed = max(0.0, now - bucket.updated_at)
        bucket.tokens = min(self.policy.capacity, bucket.tokens + elapsed * self.policy.refill_per_minute / 60.0)
        bucket.updated_at = now

    def peek(self, key: str) -> bool:
        """Whether a message under `key` would be allowed now, without spending a token."""
        if self.policy.unlimited:
            return True
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                return True
            self._refill(bucket, self._clock())
            return bucket.tokens >= 1.0

    def hit(self, key: str) -> Verdict:
        """Spend a token for `key`: `allow`, or `notify` (first refusal) / `silent` (later refusals)."""
        if self.policy.unlimited:
            return "allow"
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self._max_keys:
                    self._evict(now)
                bucket = self._buckets[key] = _Bucket(self.policy.capacity, now)
            else:
                self._refill(bucket, now)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                bucket.notified = False
                return "allow"
            if bucket.notified:
                return "silent"
            bucket.notified = True
            return "notify"

    def _evict(self, now: float) -> None:
        for key, bucket in list(self._buckets.items()):
            self._refill(bucket, now)
            if bucket.tokens >= self.policy.capacity:
                del self._buckets[key]
        if len(self._buckets) >= self._max_keys:  # all busy: forget the oldest half rather than grow forever
            for key in sorted(self._buckets, key=lambda k: self._buckets[k].updated_at)[: self._max_keys // 2]:
                del self._buckets[key]
