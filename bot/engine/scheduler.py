"""The worker thread that owns the model and runs continuous batching over all active requests.

Each step packs every running sequence's next input — one token for sequences that are decoding,
a chunk of prompt for sequences still prefilling (at most ``prefill_chunk_tokens`` in all) — into a
single forward pass. Requests join at the next step after they arrive and leave as soon as they
finish, so short replies never wait for long ones and long prompts never stall decoding.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import torch

from bot.engine.base import EngineBusy, EngineError, EngineTimeout, FinishReason, GenerationRequest, GenerationResult
from bot.engine.fused_decode import FusedDecoder
from bot.engine.kv_pool import KVPool, SequenceKV
from bot.engine.native_attention import NativeDecodeAttention
from bot.engine.packed_attention import BATCH_KWARG, PackedBatch, ScratchBuffer, Segment
from bot.engine.sampling import make_generator, next_token
from bot.engine.settings import EngineSettings
from bot.engine.step_profile import FUSED_LAYERS, SAMPLING, StepBreakdown, StepProfiler, region
from bot.engine.text import ReplyText, clean_reply

logger = logging.getLogger(__name__)

_ids = itertools.count(1)


@dataclass(frozen=True)
class Piece:
    """A piece of streamed reply text."""

    text: str


@dataclass(frozen=True)
class Finished:
    """The request completed (or was cancelled); carries the final result."""

    result: GenerationResult


@dataclass(frozen=True)
class Failed:
    """The request failed; the error is raised to the awaiting caller."""

    error: EngineError


Event = Piece | Finished | Failed


@dataclass
class RequestHandle:
    """A submitted request as both threads see it: the worker fills ``events``, the loop reads it.

    Only ``cancelled`` is written from the event loop side; everything else belongs to the worker
    after submission.
    """

    request: GenerationRequest
    prompt_ids: list[int]
    max_new_tokens: int
    deadline: float
    loop: asyncio.AbstractEventLoop
    streaming: bool
    events: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    submitted_at: float = field(default_factory=time.monotonic)
    request_id: int = field(default_factory=lambda: next(_ids))
    cancelled: bool = False
    slot_freed: bool = False  # guarded by the scheduler's lock

    def deliver(self, event: Event) -> None:
        # RuntimeError: the loop is closed, nobody is listening any more.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.events.put_nowait, event)


@dataclass
class _Running:
    handle: RequestHandle
    kv: SequenceKV
    text: ReplyText
    generator: torch.Generator | None
    cached_tokens: int
    generated: list[int] = field(default_factory=list)
    first_token_at: float | None = None

    @property
    def prompt(self) -> list[int]:
        return self.handle.prompt_ids

    @property
    def prefilled(self) -> bool:
        return self.kv.length >= len(self.prompt)


class Scheduler:
    """Owns the model on one thread; the event loop only submits, cancels and awaits."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        settings: EngineSettings,
        pool: KVPool,
        stop_token_ids: Sequence[int],
        kernel: NativeDecodeAttention | None = None,
        worker_tokenizer: Any = None,
        fused: FusedDecoder | None = None,
    ) -> None:
        self._model = model
        # The worker decodes with its own copy, so it never shares tokenizer state with the loop
        # (`worker_tokenizer`: a copy made already, e.g. while something else loaded).
        self._tokenizer = worker_tokenizer if worker_tokenizer is not None else copy.deepcopy(tokenizer)
        self._settings = settings
        self.pool = pool
        self._stop_ids = frozenset(stop_token_ids)
        self._device: torch.device = model.device
        self._inbox: queue.SimpleQueue[RequestHandle | None] = queue.SimpleQueue()
        self._waiting: deque[RequestHandle] = deque()
        self._active: list[_Running] = []
        self._lock = threading.Lock()
        self._in_flight = 0
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="socialbot-engine", daemon=True)
        self._dummy_mask = torch.zeros((1, 1, 1, 1), dtype=torch.bool, device=self._device)
        self._scratch = ScratchBuffer()
        self._helper_scratch = ScratchBuffer()
        # A second torch thread attends to half of the sequences (see packed_attention).
        self._helper = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="socialbot-attention")
            if torch.get_num_threads() > 1 and self._device.type == "cpu"
            else None
        )
        self._kernel = kernel
        # Decode-only steps through one C call for all layers (see fused_decode), when the model allows it.
        self._fused = fused
        config = model.config
        self._group_size = config.num_attention_heads // config.num_key_value_heads
        self.steps = 0
        # Read from other threads for metrics; only the worker writes them.
        self.generated_tokens = 0
        self.completed_requests = 0
        self._profiler: StepProfiler | None = None

    # ---- event loop side -------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def submit(self, handle: RequestHandle) -> None:
        """Hand a request to the worker, or raise EngineBusy when running + waiting is full."""
        with self._lock:
            if self._stopping:
                raise EngineError("the engine is stopped")
            capacity = self._settings.max_concurrent_sequences + self._settings.max_queue
            if self._in_flight >= capacity:
                raise EngineBusy(f"{self._in_flight} requests in flight; try again in a moment")
            self._in_flight += 1
        self._inbox.put(handle)

    def cancel(self, handle: RequestHandle) -> None:
        """Drop a request: its queue slot is free at once, its sequence at the next token boundary."""
        handle.cancelled = True
        self._free_slot(handle)
        self._inbox.put(None)

    def _free_slot(self, handle: RequestHandle) -> None:
        with self._lock:
            if not handle.slot_freed:
                handle.slot_freed = True
                self._in_flight -= 1

    def stop(self, timeout: float = 30.0) -> None:
        with self._lock:
            self._stopping = True
        self._inbox.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def profile_steps(self, sequences: int, steps: int) -> Future[StepBreakdown]:
        """Time, then profile, ``steps`` decode steps once ``sequences`` sequences are all decoding."""
        profiler = StepProfiler(sequences, steps)
        self._profiler = profiler
        self._inbox.put(None)
        return profiler.result

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    @property
    def running(self) -> int:
        """Sequences in the batch now (a racy read from another thread is fine for metrics)."""
        return len(self._active)

    @property
    def fused_decode(self) -> bool:
        """Whether decode-only steps run every layer in one C call."""
        return self._fused is not None

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # ---- worker side -----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                self._take_inbox(block=not self._active and not self._waiting)
                if self._stopping:
                    break
                self._drop_cancelled_and_expired()
                self._admit()
                if self._active:
                    self._step_safely()
        finally:
            for handle in list(self._waiting):
                self._finish_waiting(handle, Failed(EngineError("the engine stopped")))
            for running in list(self._active):
                self._release(running, Failed(EngineError("the engine stopped")))
            if self._helper is not None:
                self._helper.shutdown(wait=False)

    def _take_inbox(self, block: bool) -> None:
        try:
            item = self._inbox.get(block=block)
            while True:
                if item is not None:
                    self._waiting.append(item)
                item = self._inbox.get_nowait()
        except queue.Empty:
            return

    def _drop_cancelled_and_expired(self) -> None:
        now = time.monotonic()
        for handle in list(self._waiting):
            if handle.cancelled:
                self._finish_waiting(handle, Finished(self._empty_result(handle, "cancelled")))
            elif now > handle.deadline:
                self._finish_waiting(handle, Failed(EngineTimeout("request timed out while waiting")))
        for running in list(self._active):
            if running.handle.cancelled:
                self._release(running, Finished(self._result(running, "cancelled")))
            elif now > running.handle.deadline:
                self._release(running, Failed(EngineTimeout("request timed out while generating")))

    def _admit(self) -> None:
        while self._waiting and len(self._active) < self._settings.max_concurrent_sequences:
            handle = self._waiting.popleft()
            capacity = len(handle.prompt_ids) + handle.max_new_tokens
            kv = self.pool.acquire(handle.request.conversation_id, handle.prompt_ids, capacity)
            settings = handle.request.settings
            self._active.append(
                _Running(
                    handle=handle,
                    kv=kv,
                    text=ReplyText(self._decode, settings.stop),
                    generator=make_generator(settings, self._device),
                    cached_tokens=kv.length,
                )
            )

    def _decode(self, ids: Sequence[int]) -> str:
        return str(self._tokenizer.decode(list(ids), skip_special_tokens=True))

    def _step_safely(self) -> None:
        try:
            profiler = self._profiler
            decoding = sum(running.prefilled for running in self._active)
            if profiler is not None and profiler.ready(decoding, len(self._active)):
                if profiler.run(self._step):
                    self._profiler = None
            else:
                self._step()
        except Exception as exc:  # a failed forward pass fails the batch, never the worker
            logger.exception("engine step failed; failing %d requests", len(self._active))
            for running in list(self._active):
                self._release(running, Failed(EngineError(f"generation failed: {exc}")), keep=False)

    def _step(self) -> None:
        tokens: list[int] = []
        positions: list[int] = []
        segments: list[Segment] = []
        fed: list[tuple[_Running, list[int]]] = []
        budget = self._settings.prefill_chunk_tokens
        for running in self._active:
            past = running.kv.length
            if running.prefilled:
                new = [running.generated[-1]]
            elif budget > 0:
                new = running.prompt[past : past + budget]
                budget -= len(new)
            else:
                continue
            segments.append(Segment(running.kv, len(tokens), len(new), past))
            tokens.extend(new)
            positions.extend(range(past, past + len(new)))
            fed.append((running, new))
        caches = [segment.kv for segment in segments]
        fused = self._fused
        with torch.inference_mode():
            decode_only = fused is not None and len(tokens) == len(segments) and fused.accepts(caches)
            if fused is not None and decode_only:
                with region(FUSED_LAYERS):  # every segment decodes one token: all layers in one C call
                    hidden = fused.decode(tokens, caches)
            else:
                hidden = self._forward(tokens, positions, segments)
            for running, new in fed:
                running.kv.tokens.extend(new)
            # Logits only where a next token is needed: the last position of each finished prompt.
            wanted = [(running, seg) for (running, _), seg in zip(fed, segments, strict=True) if running.prefilled]
            if wanted:
                rows = torch.tensor([seg.start + seg.count - 1 for _, seg in wanted], device=self._device)
                picked = hidden[0].index_select(0, rows)
                if fused is not None and decode_only:
                    with region(FUSED_LAYERS):
                        logits = fused.logits(picked)
                else:
                    logits = self._model.lm_head(picked).float()
        self.steps += 1
        now = time.monotonic()
        for index, (running, _) in enumerate(wanted):
            settings = running.handle.request.settings
            history = running.prompt + running.generated if settings.repetition_penalty != 1.0 else []
            with region(SAMPLING):
                token = next_token(logits[index], settings, history, running.generator)
            if running.first_token_at is None:
                running.first_token_at = now
            running.generated.append(token)
            self.generated_tokens += 1
            self._after_token(running, token)

    def _forward(self, tokens: list[int], positions: list[int], segments: list[Segment]) -> torch.Tensor:
        """The model's last hidden states for a packed step, layer by layer (prefill chunks, or no fused decoder)."""
        batch = PackedBatch.build(
            segments,
            self._device,
            self._scratch,
            self._helper,
            self._helper_scratch,
            self._kernel,
            self._group_size,
        )
        hidden: torch.Tensor = self._model.model(
            input_ids=torch.tensor([tokens], device=self._device),
            position_ids=torch.tensor([positions], device=self._device),
            attention_mask=self._dummy_mask,
            use_cache=False,
            **{BATCH_KWARG: batch},
        ).last_hidden_state
        return hidden

    def _after_token(self, running: _Running, token: int) -> None:
        if token in self._stop_ids and not running.handle.request.settings.ignore_eos:
            self._release(running, Finished(self._result(running, "stop")))
            return
        update = running.text.push(token)
        if update.piece and running.handle.streaming:
            running.handle.deliver(Piece(update.piece))
        if update.stopped:
            self._release(running, Finished(self._result(running, "stop")))
        elif len(running.generated) >= running.handle.max_new_tokens:
            self._release(running, Finished(self._result(running, "length")))

    def _result(self, running: _Running, reason: FinishReason) -> GenerationResult:
        if reason != "cancelled":
            tail = running.text.flush()
            if tail and running.handle.streaming:
                running.handle.deliver(Piece(tail))
        handle = running.handle
        return GenerationResult(
            text=clean_reply(running.text.text, finished_by_length=reason == "length"),
            prompt_tokens=len(handle.prompt_ids),
            completion_tokens=len(running.generated),
            finish_reason=reason,
            cached_prompt_tokens=running.cached_tokens,
            time_to_first_token_s=(
                running.first_token_at - handle.submitted_at if running.first_token_at is not None else None
            ),
            latency_s=time.monotonic() - handle.submitted_at,
        )

    def _empty_result(self, handle: RequestHandle, reason: FinishReason) -> GenerationResult:
        return GenerationResult(
            text="",
            prompt_tokens=len(handle.prompt_ids),
            completion_tokens=0,
            finish_reason=reason,
            latency_s=time.monotonic() - handle.submitted_at,
        )

    def _release(self, running: _Running, event: Event, keep: bool = True) -> None:
        self._active.remove(running)
        self.pool.release(running.handle.request.conversation_id, running.kv, keep=keep)
        self._done(running.handle, event)

    def _finish_waiting(self, handle: RequestHandle, event: Event) -> None:
        self._waiting.remove(handle)
        self._done(handle, event)

    def _done(self, handle: RequestHandle, event: Event) -> None:
        self.completed_requests += 1
        self._free_slot(handle)
        handle.deliver(event)
