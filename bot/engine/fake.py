"""A scripted engine for fast tests of the parts of socialbot that talk to an engine."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence

from bot.engine.base import ChatTurn, EngineError, GenerationRequest, GenerationResult


class ScriptedEngine:
    """An Engine that replies with queued texts and records what it was asked.

    It exists so tests of the conversation manager, adapters and commands run in milliseconds
    without a model. Replies are taken from the queue in order; when the queue is empty
    ``default_reply`` is used. Tokens are counted as whitespace-separated words of all message
    contents plus 4 per message (a rough stand-in for a chat template), so prompt budgets behave
    plausibly. Stop strings and ``max_new_tokens`` (in words) are honoured like the real engine.
    """

    def __init__(
        self,
        replies: Iterable[str] = (),
        default_reply: str = "ok",
        model_name: str = "scripted",
    ) -> None:
        self._replies: deque[str] = deque(replies)
        self.default_reply = default_reply
        self._model_name = model_name
        self.requests: list[GenerationRequest] = []
        self.started = False
        self.stopped = False
        self.forgotten: list[str] = []

    @property
    def model_name(self) -> str:
        return self._model_name

    def forget_conversation(self, conversation_id: str) -> None:
        self.forgotten.append(conversation_id)

    def enqueue(self, *texts: str) -> None:
        """Queue replies for the next requests, in order."""
        self._replies.extend(texts)

    async def start(self) -> None:
        self.started = True
        self.stopped = False

    async def stop(self) -> None:
        self.stopped = True

    def count_tokens(self, messages: Sequence[ChatTurn]) -> int:
        return sum(len(turn.content.split()) + 4 for turn in messages)

    def _next_reply(self, request: GenerationRequest) -> tuple[str, str]:
        if self.stopped:
            raise EngineError("engine is stopped")
        self.requests.append(request)
        text = self._replies.popleft() if self._replies else self.default_reply
        finish = "stop"
        for stop in request.settings.stop:
            index = text.find(stop)
            if index >= 0:
                text = text[:index]
        words = text.split(" ")
        if len(text.split()) > request.settings.max_new_tokens:
            text = " ".join(words[: request.settings.max_new_tokens])
            finish = "length"
        return text, finish

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        text, finish = self._next_reply(request)
        await asyncio.sleep(0)
        return GenerationResult(
            text=text.strip(),
            prompt_tokens=self.count_tokens(request.messages),
            completion_tokens=len(text.split()),
            finish_reason="length" if finish == "length" else "stop",
        )

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        text, _ = self._next_reply(request)
        words = text.split(" ")
        for index, word in enumerate(words):
            await asyncio.sleep(0)
            yield word if index == 0 else " " + word
