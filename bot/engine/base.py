"""The contract every language-model backend fulfils, so the manager never knows which one it talks to."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "cancelled", "timeout"]


class EngineError(Exception):
    """Base class for engine failures the manager answers politely instead of crashing."""


class EngineBusy(EngineError):
    """The request queue is full: the caller should tell the user to try again shortly."""


class EngineTimeout(EngineError):
    """A request exceeded its per-request deadline."""


@dataclass(frozen=True)
class ChatTurn:
    """One message of a chat prompt, in the roles chat templates understand."""

    role: Role
    content: str


@dataclass(frozen=True)
class GenerationSettings:
    """Sampling and stopping parameters for one request (from config, overridable per call)."""

    max_new_tokens: int = 128
    temperature: float = 0.0  # 0 means greedy
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    # Keep generating past end-of-sequence tokens until max_new_tokens (benchmarks use it to make
    # every backend produce the same number of tokens).
    ignore_eos: bool = False


@dataclass(frozen=True)
class GenerationRequest:
    """What to generate: a chat prompt, settings, and the conversation it belongs to (for cache reuse)."""

    messages: tuple[ChatTurn, ...]
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    # Stable id of the conversation; engines that cache keys/values reuse them across turns with it.
    conversation_id: str | None = None


@dataclass(frozen=True)
class GenerationResult:
    """A finished generation with the counts a benchmark or log needs."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: FinishReason
    cached_prompt_tokens: int = 0
    # Seconds from submission to the first generated token, and to the end (None when unknown).
    time_to_first_token_s: float | None = None
    latency_s: float | None = None


@dataclass(frozen=True)
class EngineStats:
    """A read-only snapshot of an engine's load, for the health check and the metrics endpoint."""

    backend: str
    alive: bool  # the worker thread runs / the HTTP session is open
    running: int  # requests generating now
    queued: int  # requests waiting for a slot
    capacity: int  # running + queued beyond which requests are refused as busy
    generated_tokens: int  # since start
    completed_requests: int  # since start
    kv_bytes_active: int | None = None
    kv_bytes_idle: int | None = None
    kv_budget_bytes: int | None = None
    kv_entries: int | None = None
    kv_hits: int | None = None
    kv_misses: int | None = None
    kv_evictions: int | None = None


@runtime_checkable
class Engine(Protocol):
    """A chat-completion backend. Generation never blocks the caller's event loop."""

    @property
    def model_name(self) -> str: ...

    async def start(self) -> None:
        """Load weights / open connections. Idempotent."""

    async def stop(self) -> None:
        """Cancel in-flight work and release resources. Idempotent."""

    def count_tokens(self, messages: Sequence[ChatTurn]) -> int:
        """Tokens the prompt for these messages would take, chat template included."""

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        """Generate a complete reply."""

    def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """Yield reply text pieces as they are generated; cancelling the iterator frees the slot."""

    def forget_conversation(self, conversation_id: str) -> None:
        """Drop whatever the backend keeps of a conversation (cached keys/values), e.g. after /forgetme."""
