"""A fake OpenAI-compatible chat server on 127.0.0.1, so the real aiohttp client runs unmodified."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class ScriptedResponse:
    """What the server answers to the next request: a reply, or an HTTP error."""

    text: str = "Hello from the fake server."
    finish_reason: str = "stop"
    status: int = 200
    error_body: str = ""
    delay_s: float = 0.0


class FakeOpenAIServer:
    """Speaks ``POST /v1/chat/completions`` (plain JSON and ``stream: true`` SSE).

    Responses come from a script (``enqueue``); every request body is recorded in ``requests``.
    Streamed replies are sent word by word so clients see many chunks. With ``fill_to_max_tokens``
    an unscripted request is answered with exactly ``max_tokens`` words, one chunk each,
    ``token_delay_s`` apart, as a benchmark client needs; a streamed request that asks for
    ``stream_options.include_usage`` gets a final usage chunk, as vLLM and llama.cpp send.
    """

    def __init__(self, fill_to_max_tokens: bool = False, token_delay_s: float = 0.0) -> None:
        self.fill_to_max_tokens = fill_to_max_tokens
        self.token_delay_s = token_delay_s
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._script: deque[ScriptedResponse] = deque()
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        # While set to an unset event, requests wait for it (a test's "the model is generating now").
        self.hold: asyncio.Event | None = None
        self.waiting = 0

    def enqueue(self, *responses: ScriptedResponse) -> None:
        self._script.extend(responses)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        scripted = self._script.popleft() if self._script else self._unscripted(body)
        hold = self.hold
        if hold is not None:
            self.waiting += 1
            try:
                await hold.wait()
            finally:
                self.waiting -= 1
        if scripted.delay_s:
            await asyncio.sleep(scripted.delay_s)
        if scripted.status != 200:
            return web.Response(status=scripted.status, text=scripted.error_body or '{"error": "scripted"}')
        usage = {"prompt_tokens": 11, "completion_tokens": len(scripted.text.split())}
        if not body.get("stream"):
            return web.json_response(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "model": body.get("model"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": scripted.text},
                            "finish_reason": scripted.finish_reason,
                        }
                    ],
                    "usage": usage,
                }
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        words = scripted.text.split(" ")
        for index, word in enumerate(words):
            if self.token_delay_s:
                await asyncio.sleep(self.token_delay_s)
            delta = {"content": word if index == 0 else " " + word}
            if index == 0:
                delta["role"] = "assistant"
            chunk = {"id": "chatcmpl-fake", "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        final = {"id": "chatcmpl-fake", "choices": [{"index": 0, "delta": {}, "finish_reason": scripted.finish_reason}]}
        await response.write(f"data: {json.dumps(final)}\n\n".encode())
        if (body.get("stream_options") or {}).get("include_usage"):
            usage_chunk = {"id": "chatcmpl-fake", "choices": [], "usage": {**usage, "total_tokens": 11 + len(words)}}
            await response.write(f"data: {json.dumps(usage_chunk)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    def _unscripted(self, body: dict[str, Any]) -> ScriptedResponse:
        if not self.fill_to_max_tokens:
            return ScriptedResponse()
        count = max(1, int(body.get("max_tokens") or 16))
        return ScriptedResponse(text=" ".join(f"w{index}" for index in range(count)), finish_reason="length")
