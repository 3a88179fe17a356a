"""A backend for models served elsewhere behind the OpenAI-compatible chat API.

Owners who run vLLM, the llama.cpp server, Ollama or TGI point socialbot at that server instead
of loading a model in-process; batching and caching are then the server's job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp

from bot.engine.base import (
    ChatTurn,
    EngineBusy,
    EngineError,
    EngineStats,
    EngineTimeout,
    FinishReason,
    GenerationRequest,
    GenerationResult,
)
from bot.engine.settings import EngineSettings
from bot.engine.text import clean_reply

logger = logging.getLogger(__name__)


async def server_sent_data(content: aiohttp.StreamReader) -> AsyncIterator[str]:
    """The `data:` payloads of an OpenAI-style event stream, up to its `[DONE]`."""
    async for raw in content:
        line = raw.decode("utf-8", errors="replace").strip()
        if not line.startswith("data:"):
            continue
        data = line[len("data:") :].strip()
        if data == "[DONE]":
            return
        yield data


_BUSY_STATUSES = frozenset({429, 503})
_TIMEOUT_STATUSES = frozenset({408, 504})


def approximate_tokens(messages: Sequence[ChatTurn]) -> int:
    """Rough token count without a tokenizer: about four characters per token, plus per-message overhead."""
    return sum(len(turn.content) // 4 + 4 for turn in messages) + 3


def _finish_reason(value: object) -> FinishReason:
    return "length" if value == "length" else "stop"


class OpenAIEngine:
    """Talks to ``{openai_base_url}/chat/completions`` with aiohttp; never blocks the event loop.

    HTTP 429/503 become EngineBusy, 408/504 and client-side deadlines EngineTimeout, anything else
    EngineError, so the manager answers users the same way whichever backend runs.
    """

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._tokenizer: Any = None
        self._slots = asyncio.Semaphore(settings.max_concurrent_sequences)
        self._in_flight = 0
        self._running = 0
        self._generated_tokens = 0
        self._completed = 0
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return self.settings.openai_model

    def stats(self) -> EngineStats:
        """Requests in flight here (the server's own queue is not visible) and tokens it reported."""
        with self._lock:
            in_flight, running = self._in_flight, self._running
            generated, completed = self._generated_tokens, self._completed
        return EngineStats(
            backend="openai",
            alive=self._session is not None and not self._session.closed,
            running=running,
            queued=max(0, in_flight - running),
            capacity=self.settings.max_concurrent_sequences + self.settings.max_queue,
            generated_tokens=generated,
            completed_requests=completed,
        )

    def _count(self, running: int = 0, tokens: int = 0, completed: int = 0) -> None:
        with self._lock:
            self._running += running
            self._generated_tokens += tokens
            self._completed += completed

    async def start(self) -> None:
        if self._session is not None:
            return
        if self.settings.openai_tokenizer and self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = await asyncio.to_thread(AutoTokenizer.from_pretrained, self.settings.openai_tokenizer)
        headers = {"Content-Type": "application/json"}
        if self.settings.openai_api_key:
            headers["Authorization"] = f"Bearer {self.settings.openai_api_key}"
        timeout = aiohttp.ClientTimeout(
            total=self.settings.request_timeout_s, connect=self.settings.openai_connect_timeout_s
        )
        self._session = aiohttp.ClientSession(headers=headers, timeout=timeout)

    async def stop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def count_tokens(self, messages: Sequence[ChatTurn]) -> int:
        if self._tokenizer is not None:
            from bot.engine.transformers_engine import encode_chat

            return len(encode_chat(self._tokenizer, messages))
        return approximate_tokens(messages)

    def forget_conversation(self, conversation_id: str) -> None:
        """Nothing to drop: the server keeps no per-conversation state this client controls."""

    def _payload(self, request: GenerationRequest, stream: bool) -> dict[str, Any]:
        settings = request.settings
        payload: dict[str, Any] = {
            "model": self.settings.openai_model,
            "messages": [{"role": turn.role, "content": turn.content} for turn in request.messages],
            "max_tokens": max(1, min(settings.max_new_tokens, self.settings.max_new_tokens_cap)),
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "stream": stream,
        }
        if settings.stop:
            payload["stop"] = list(settings.stop)
        if settings.seed is not None:
            payload["seed"] = settings.seed
        if settings.repetition_penalty != 1.0:
            payload["repetition_penalty"] = settings.repetition_penalty  # vLLM / llama.cpp extension
        if request.conversation_id is not None:
            payload["user"] = request.conversation_id
        return payload

    def _url(self) -> str:
        return self.settings.openai_base_url.rstrip("/") + "/chat/completions"

    def _claim(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise EngineError("the engine is not started")
        with self._lock:
            if self._in_flight >= self.settings.max_concurrent_sequences + self.settings.max_queue:
                raise EngineBusy("too many requests in flight; try again in a moment")
            self._in_flight += 1
        return self._session

    @contextlib.asynccontextmanager
    async def _slot(self, deadline: float) -> AsyncIterator[aiohttp.ClientTimeout]:
        """Wait for one of `max_concurrent_sequences` slots, then hand out the time left until `deadline`.

        The per-request timeout counts from submission, queueing included, as in the local engine: a
        request that waited its whole budget in the queue times out without reaching the server.
        """
        remaining = deadline - asyncio.get_running_loop().time()
        try:
            await asyncio.wait_for(self._slots.acquire(), max(remaining, 0.0))
        except TimeoutError:
            raise EngineTimeout("request timed out while waiting for the model server") from None
        try:
            remaining = max(0.001, deadline - asyncio.get_running_loop().time())
            yield aiohttp.ClientTimeout(total=remaining, connect=self.settings.openai_connect_timeout_s)
        finally:
            self._slots.release()

    def _unclaim(self) -> None:
        with self._lock:
            self._in_flight -= 1

    @staticmethod
    async def _raise_for_status(response: aiohttp.ClientResponse) -> None:
        if response.status < 400:
            return
        body = (await response.text())[:200]
        message = f"model server answered HTTP {response.status}: {body}"
        if response.status in _BUSY_STATUSES:
            raise EngineBusy(message)
        if response.status in _TIMEOUT_STATUSES:
            raise EngineTimeout(message)
        raise EngineError(message)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        session = self._claim()
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.settings.request_timeout_s
        try:
            async with self._slot(deadline) as timeout:
                self._count(running=1)
                try:
                    payload = self._payload(request, stream=False)
                    async with session.post(self._url(), json=payload, timeout=timeout) as response:
                        await self._raise_for_status(response)
                        body = await response.json(content_type=None)
                finally:
                    self._count(running=-1, completed=1)
        except TimeoutError as exc:
            raise EngineTimeout("the model server did not answer in time") from exc
        except aiohttp.ClientError as exc:
            raise EngineError(f"could not reach the model server: {exc}") from exc
        finally:
            self._unclaim()
        try:
            choice = body["choices"][0]
            text = choice["message"].get("content") or ""
            reason = _finish_reason(choice.get("finish_reason"))
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise EngineError(f"unexpected reply from the model server: {str(body)[:200]}") from exc
        usage = body.get("usage") or {}
        self._count(tokens=int(usage.get("completion_tokens") or 0))
        elapsed = loop.time() - started
        return GenerationResult(
            text=clean_reply(text, finished_by_length=reason == "length"),
            prompt_tokens=int(usage.get("prompt_tokens") or self.count_tokens(request.messages)),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason=reason,
            time_to_first_token_s=None,
            latency_s=elapsed,
        )

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        session = self._claim()
        deadline = asyncio.get_running_loop().time() + self.settings.request_timeout_s
        try:
            async with self._slot(deadline) as timeout:
                self._count(running=1)
                try:
                    async for piece in self._stream_pieces(session, request, timeout):
                        yield piece
                finally:
                    self._count(running=-1, completed=1)
        except TimeoutError as exc:
            raise EngineTimeout("the model server did not answer in time") from exc
        except aiohttp.ClientError as exc:
            raise EngineError(f"could not reach the model server: {exc}") from exc
        finally:
            self._unclaim()

    async def _stream_pieces(
        self, session: aiohttp.ClientSession, request: GenerationRequest, timeout: aiohttp.ClientTimeout
    ) -> AsyncIterator[str]:
        async with session.post(self._url(), json=self._payload(request, stream=True), timeout=timeout) as response:
            await self._raise_for_status(response)
            async for data in server_sent_data(response.content):
                piece = _delta_text(data)
                if piece:
                    self._count(tokens=1)  # servers stream about one token per chunk
                    yield piece


def _delta_text(data: str) -> str:
    try:
        chunk = json.loads(data)
        return str(chunk["choices"][0]["delta"].get("content") or "")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        logger.warning("ignoring a malformed stream chunk from the model server")
        return ""
