"""Per-conversation key/value caches and the LRU pool that keeps them within a memory budget."""

from __future__ import annotations

import logging
import math
import mmap
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch

logger = logging.getLogger(__name__)

_CAPACITY_STEP = 64
# Tokens of room mapped beyond what a CPU cache was asked for: never written pages of a mapping are
# not resident, so this costs address space only, and a next turn that outgrows its cache by less does
# not copy it into a new one (measured: growing a 2,000-token cache costs 50-80 ms).
CPU_HEADROOM_TOKENS = 512


@dataclass(frozen=True)
class KVShape:
    """The per-token key/value geometry of a model, enough to allocate caches for it."""

    layers: int
    kv_heads: int
    head_dim: int
    dtype: torch.dtype
    device: torch.device

    @property
    def bytes_per_token(self) -> int:
        element = torch.empty((), dtype=self.dtype).element_size()
        return self.layers * 2 * self.kv_heads * self.head_dim * element


class SequenceKV:
    """Keys and values of one token sequence, for every layer, in one preallocated buffer.

    ``buffer[layer, 0]`` holds keys and ``buffer[layer, 1]`` values, shaped
    (kv_heads, capacity, head_dim). ``tokens`` lists exactly the tokens whose keys/values are
    stored, so a later prompt can be compared with it token by token.
    """

    def __init__(self, shape: KVShape, capacity: int) -> None:
        self.shape = shape
        # Tokens asked for (what the pool's budget counts); the buffer may hold more (CPU_HEADROOM_TOKENS).
        self.reserved = _round_up(capacity)
        self.buffer = _allocate(
            (shape.layers, 2, shape.kv_heads, self._mapped(self.reserved), shape.head_dim), shape.dtype, shape.device
        )
        self.tokens: list[int] = []

    def _mapped(self, reserved: int) -> int:
        return reserved + (CPU_HEADROOM_TOKENS if self.shape.device.type == "cpu" else 0)

    @property
    def length(self) -> int:
        return len(self.tokens)

    @property
    def capacity(self) -> int:
        return int(self.buffer.shape[3])

    @property
    def nbytes(self) -> int:
        """Bytes of the tokens asked for: at most what can be resident, since only those are ever written."""
        return self.buffer.numel() // self.capacity * self.reserved * self.buffer.element_size()

    def ensure_capacity(self, capacity: int) -> None:
        """Make room for at least ``capacity`` tokens: in the buffer's headroom, else in a grown copy."""
        self.reserved = max(self.reserved, _round_up(capacity))
        if self.reserved <= self.capacity:
            return
        grown = _allocate(
            (*self.buffer.shape[:3], self._mapped(self.reserved), self.buffer.shape[4]),
            self.buffer.dtype,
            self.buffer.device,
        )
        grown[:, :, :, : self.length] = self.buffer[:, :, :, : self.length]
        self.buffer = grown

    def truncate(self, length: int) -> None:
        """Forget everything after the first ``length`` tokens."""
        del self.tokens[length:]


def _allocate(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """An uninitialised cache buffer; on a CPU its own anonymous memory mapping.

    Each cache then goes back to the OS the moment it is dropped, and pages past the stored tokens are
    never resident. From the C allocator, freed caches of a few tens of MB stayed in its heaps
    (glibc raises its mmap threshold to the size of each freed block).
    """
    if device.type != "cpu":
        return torch.empty(shape, dtype=dtype, device=device)
    count = math.prod(shape)
    region = mmap.mmap(-1, count * torch.empty((), dtype=dtype).element_size())
    return torch.frombuffer(region, dtype=dtype, count=count).view(shape)  # the tensor keeps `region` alive


def _round_up(capacity: int) -> int:
    return max(_CAPACITY_STEP, -(-capacity // _CAPACITY_STEP) * _CAPACITY_STEP)


def common_prefix_length(cached: Sequence[int], prompt: Sequence[int]) -> int:
    """Length of the longest common token prefix of two sequences."""
    limit = min(len(cached), len(prompt))
    index = 0
    while index < limit and cached[index] == prompt[index]:
        index += 1
    return index


@dataclass(frozen=True)
class PoolStats:
    """Counters a log line or benchmark reports about cache reuse."""

    entries: int
    bytes_idle: int
    bytes_active: int
    hits: int
    misses: int
    evictions: int


class KVPool:
    """Keeps idle conversations' caches for their next turn, evicting least recently used ones.

    The budget covers idle and active caches together; only idle ones can be evicted (active
    sequences are bounded by the scheduler's concurrency cap). An evicted conversation is simply
    re-encoded on its next turn.
    """

    def __init__(self, shape: KVShape, budget_bytes: int) -> None:
        self.shape = shape
        self.budget_bytes = budget_bytes
        self._idle: OrderedDict[str, SequenceKV] = OrderedDict()
        self._active_bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def acquire(self, conversation_id: str | None, prompt: Sequence[int], capacity: int) -> SequenceKV:
        """A cache for a new generation over ``prompt``: the conversation's own, cut to the common
        prefix, when one is kept; else a fresh one. At least one prompt token is always left to
        compute, because its logits start the reply."""
        with self._lock:
            cached = self._idle.pop(conversation_id, None) if conversation_id is not None else None
            if cached is not None:
                reuse = min(common_prefix_length(cached.tokens, prompt), len(prompt) - 1)
                if reuse > 0:
                    self.hits += 1
                    cached.truncate(reuse)
                    cached.ensure_capacity(capacity)
                    self._active_bytes += cached.nbytes
                    self._evict_locked()
                    return cached
            self.misses += 1
            self._active_bytes += 0
        kv = SequenceKV(self.shape, capacity)
        with self._lock:
            self._active_bytes += kv.nbytes
            self._evict_locked()
        return kv

    def release(self, conversation_id: str | None, kv: SequenceKV, keep: bool = True) -> None:
        """Return a finished sequence's cache; keep it for the conversation's next turn if allowed."""
        with self._lock:
            self._active_bytes -= kv.nbytes
            if keep and conversation_id is not None and kv.length > 0:
                self._idle.pop(conversation_id, None)
                self._idle[conversation_id] = kv
            self._evict_locked()

    def drop(self, conversation_id: str) -> None:
        """Forget a conversation's cache (e.g. the user deleted their history)."""
        with self._lock:
            self._idle.pop(conversation_id, None)

    def clear(self) -> None:
        with self._lock:
            self._idle.clear()

    def stats(self) -> PoolStats:
        with self._lock:
            return PoolStats(
                entries=len(self._idle),
                bytes_idle=sum(kv.nbytes for kv in self._idle.values()),
                bytes_active=self._active_bytes,
                hits=self.hits,
                misses=self.misses,
                evictions=self.evictions,
            )

    def _evict_locked(self) -> None:
        idle = sum(kv.nbytes for kv in self._idle.values())
        while self._idle and idle + self._active_bytes > self.budget_bytes:
            conversation_id, kv = self._idle.popitem(last=False)
            idle -= kv.nbytes
            self.evictions += 1
            logger.debug("evicted kv cache of conversation %s (%d tokens)", conversation_id, kv.length)
