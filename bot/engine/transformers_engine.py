"""The in-process engine: a local transformers model served with continuous batching and KV reuse."""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import torch

from bot.engine.base import (
    ChatTurn,
    EngineError,
    EngineStats,
    GenerationRequest,
    GenerationResult,
)
from bot.engine.direct_llama import DirectLlamaForCausalLM
from bot.engine.fused_decode import FusedDecodeKernel, FusedDecoder, load_fused_decode
from bot.engine.kv_pool import KVPool, KVShape, PoolStats
from bot.engine.loader import LoadedModel, ProgressCallback, load_model
from bot.engine.native_attention import NativeDecodeAttention, load_native_attention
from bot.engine.packed_attention import ATTENTION_NAME, register_packed_attention
from bot.engine.scheduler import Failed, Finished, Piece, RequestHandle, Scheduler
from bot.engine.settings import EngineSettings, KVDType
from bot.engine.step_profile import StepBreakdown

logger = logging.getLogger(__name__)


def encode_chat(tokenizer: Any, messages: Sequence[ChatTurn]) -> list[int]:
    """Token ids of a chat prompt (template applied, assistant turn opened)."""
    rendered = tokenizer.apply_chat_template(
        [{"role": turn.role, "content": turn.content} for turn in messages],
        tokenize=False,
        add_generation_prompt=True,
    )
    return list(tokenizer.encode(rendered, add_special_tokens=False))


def _stop_token_ids(tokenizer: Any, model: Any) -> list[int]:
    ids: set[int] = set()
    eos = getattr(model.generation_config, "eos_token_id", None)
    for value in (eos if isinstance(eos, list) else [eos], [tokenizer.eos_token_id]):
        ids.update(int(v) for v in value if v is not None)
    for marker in ("<|im_end|>", "<|im_start|>", "<|endoftext|>", "<|eot_id|>"):
        token_id = tokenizer.convert_tokens_to_ids(marker)
        if isinstance(token_id, int) and token_id != tokenizer.unk_token_id and token_id >= 0:
            ids.add(token_id)
    return sorted(ids)


def resolve_kv_dtype(setting: KVDType, model_dtype: torch.dtype, device: torch.device) -> torch.dtype:
    """The dtype keys/values are stored in: "auto" is bfloat16 on CPU (attention reads it back in
    the model dtype), the model dtype elsewhere."""
    if setting == "float32":
        return torch.float32
    if setting == "bfloat16" or (device.type == "cpu" and _cpu_supports_bfloat16()):
        return torch.bfloat16
    return model_dtype


def _cpu_supports_bfloat16() -> bool:
    try:
        torch.zeros(2, dtype=torch.bfloat16).float()
    except (RuntimeError, TypeError):
        return False
    return True


class TransformersEngine:
    """Serves chat completions from a local causal LM without blocking the event loop.

    One worker thread owns the model (see ``Scheduler``); this class tokenizes, submits, and turns
    the worker's events back into awaited results or streamed pieces. Conversations keep their
    keys/values between turns (``KVPool``), so a follow-up turn only computes its new tokens.
    """

    def __init__(
        self,
        settings: EngineSettings,
        progress: ProgressCallback | None = None,
        loaded: LoadedModel | None = None,
    ) -> None:
        self.settings = settings
        self._progress = progress
        self._loaded = loaded
        self._scheduler: Scheduler | None = None
        self._start_lock = asyncio.Lock()

    @property
    def model_name(self) -> str:
        return self._loaded.name if self._loaded is not None else self.settings.model

    @property
    def loaded(self) -> LoadedModel:
        """The model and tokenizer (after start); the benchmark's baseline reuses them."""
        if self._loaded is None:
            raise EngineError("the engine is not started")
        return self._loaded

    @property
    def pool_stats(self) -> PoolStats | None:
        return self._scheduler.pool.stats() if self._scheduler is not None else None

    def stats(self) -> EngineStats:
        """Load and cache use now (all zero before start)."""
        scheduler = self._scheduler
        capacity = self.settings.max_concurrent_sequences + self.settings.max_queue
        if scheduler is None:
            return EngineStats("transformers", False, 0, 0, capacity, 0, 0)
        in_flight, running = scheduler.in_flight, scheduler.running
        pool = scheduler.pool.stats()
        return EngineStats(
            backend="transformers",
            alive=scheduler.alive,
            running=min(running, in_flight),
            queued=max(0, in_flight - running),
            capacity=capacity,
            generated_tokens=scheduler.generated_tokens,
            completed_requests=scheduler.completed_requests,
            kv_bytes_active=pool.bytes_active,
            kv_bytes_idle=pool.bytes_idle,
            kv_budget_bytes=scheduler.pool.budget_bytes,
            kv_entries=pool.entries,
            kv_hits=pool.hits,
            kv_misses=pool.misses,
            kv_evictions=pool.evictions,
        )

    async def start(self) -> None:
        async with self._start_lock:
            if self._scheduler is not None:
                return
            if self._loaded is None:
                # The same load the running bot does (bot.ops.background_engine), so evaluations and tests
                # measure the model path users get, fused decode included.
                self._loaded = await asyncio.to_thread(load_model, self.settings, self._progress, True)
            loaded = self._loaded
            model = loaded.model
            if not getattr(model, "packed_attention_builtin", False):  # a transformers model
                register_packed_attention()
                model.config._attn_implementation = ATTENTION_NAME
            config = model.config
            head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
            shape = KVShape(
                layers=config.num_hidden_layers,
                kv_heads=config.num_key_value_heads,
                head_dim=head_dim,
                dtype=resolve_kv_dtype(self.settings.kv_dtype, model.model.embed_tokens.weight.dtype, loaded.device),
                device=loaded.device,
            )
            pool = KVPool(shape, self.settings.kv_cache_budget_mb * 1024 * 1024)
            # The worker's own tokenizer copy (~0.5 s) is made while the kernel loads: nothing else uses the
            # tokenizer before the engine has started.
            worker_tokenizer = asyncio.to_thread(copy.deepcopy, loaded.tokenizer)
            kernel = None
            fused_library = asyncio.to_thread(self._fused_library, model)
            if self.settings.native_attention and NativeDecodeAttention.supports(
                shape.dtype, loaded.device, shape.kv_heads, config.num_attention_heads, head_dim
            ):
                kernel, tokenizer_copy, fused_kernel = await asyncio.gather(
                    asyncio.to_thread(load_native_attention), worker_tokenizer, fused_library
                )
            else:
                tokenizer_copy, fused_kernel = await asyncio.gather(worker_tokenizer, fused_library)
            fused = FusedDecoder.for_model(
                model, fused_kernel, threads=self._fused_threads(), precise=not self.settings.int8_activations
            )
            scheduler = Scheduler(
                model,
                loaded.tokenizer,
                self.settings,
                pool,
                _stop_token_ids(loaded.tokenizer, model),
                kernel,
                worker_tokenizer=tokenizer_copy,
                fused=fused,
            )
            scheduler.start()
            self._scheduler = scheduler

    @property
    def fused_decode(self) -> bool:
        """Whether the started engine runs decode-only steps with every layer in one C call."""
        return self._scheduler is not None and self._scheduler.fused_decode

    def _fused_threads(self) -> int:
        """At most two threads for fused decode steps: the set ``threads``, else the machine's cores."""
        return min(2, self.settings.threads or os.cpu_count() or 1)

    def _fused_library(self, model: Any) -> FusedDecodeKernel | None:
        """The fused decode library when the settings and the model (int8 Direct Llama on a CPU) allow it."""
        if not self.settings.fused_decode or not isinstance(model, DirectLlamaForCausalLM):
            return None
        if model.device.type != "cpu" or not self.settings.int8_weights("cpu"):
            return None
        return load_fused_decode()

    async def stop(self) -> None:
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            await asyncio.to_thread(scheduler.stop)

    def count_tokens(self, messages: Sequence[ChatTurn]) -> int:
        return len(encode_chat(self.loaded.tokenizer, messages))

    def forget_conversation(self, conversation_id: str) -> None:
        """Drop a conversation's cached keys/values (e.g. when its history is deleted)."""
        if self._scheduler is not None:
            self._scheduler.pool.drop(conversation_id)

    def profile_steps(self, sequences: int, steps: int) -> asyncio.Future[StepBreakdown]:
        """Resolves with where the time of ``steps`` decode steps goes, once ``sequences`` are all decoding."""
        if self._scheduler is None:
            raise EngineError("the engine is not started")
        return asyncio.wrap_future(self._scheduler.profile_steps(sequences, steps))

    def _submit(self, request: GenerationRequest, streaming: bool) -> tuple[Scheduler, RequestHandle]:
        scheduler = self._scheduler
        if scheduler is None:
            raise EngineError("the engine is not started")
        if not request.messages:
            raise EngineError("a request needs at least one message")
        prompt = encode_chat(self.loaded.tokenizer, request.messages)
        max_new = max(1, min(request.settings.max_new_tokens, self.settings.max_new_tokens_cap))
        handle = RequestHandle(
            request=request,
            prompt_ids=prompt,
            max_new_tokens=max_new,
            deadline=time.monotonic() + self.settings.request_timeout_s,
            loop=asyncio.get_running_loop(),
            streaming=streaming,
        )
        scheduler.submit(handle)
        return scheduler, handle

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        scheduler, handle = self._submit(request, streaming=False)
        try:
            while True:
                event = await handle.events.get()
                if isinstance(event, Finished):
                    return event.result
                if isinstance(event, Failed):
                    raise event.error
        except BaseException:
            scheduler.cancel(handle)
            raise

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        scheduler, handle = self._submit(request, streaming=True)
        finished = False
        try:
            while True:
                event = await handle.events.get()
                if isinstance(event, Piece):
                    yield event.text
                elif isinstance(event, Finished):
                    finished = True
                    return
                else:
                    finished = True
                    raise event.error
        finally:
            if not finished:
                scheduler.cancel(handle)


def engine_device_summary(engine: TransformersEngine) -> str:
    """A one-line description of where the model runs, for logs and the CLI."""
    loaded = engine.loaded
    return f"{loaded.name} on {loaded.device} ({torch.get_num_threads()} threads)"
