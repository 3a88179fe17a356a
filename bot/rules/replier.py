"""Finding and producing auto-replies: keeps the rule index fresh, applies cooldowns, renders responses."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bot.messages import IncomingMessage
from bot.rules.matcher import Encoder, RuleIndex, RuleMatch
from bot.rules.model import Rule
from bot.rules.render import render_template
from bot.rules.repository import RuleRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannedReply:
    """What a matched rule would answer: fixed text, or a prompt to send to the model."""

    rule: Rule
    text: str = ""
    prompt_name: str = ""
    prompt_values: tuple[tuple[str, str], ...] = ()


def template_values(message: IncomingMessage, groups: dict[str, str]) -> dict[str, str]:
    """The placeholders a template may use: {user}, {chat} and the regex captures."""
    author = message.author
    user = author.display_name or author.username or author.user_id
    return {**groups, "user": user, "chat": message.conversation.chat_id}


class AutoReplier:
    """Holds the current rule index (rebuilt when the stored rules change) and per-chat cooldowns."""

    def __init__(
        self,
        repository: RuleRepository,
        encoder: Callable[[], Encoder] | None,
        default_threshold: float = 0.75,
        default_cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.repository = repository
        self._encoder_factory = encoder
        self.default_threshold = default_threshold
        self.default_cooldown_s = default_cooldown_s
        self._clock = clock
        self._index: RuleIndex | None = None
        self._version = -1
        self._vectors: dict[str, NDArray[np.float32]] = {}
        self._build_lock = threading.Lock()
        self._last_fired: dict[tuple[int, str], float] = {}

    def _encode(self) -> Encoder | None:
        return self._encoder_factory() if self._encoder_factory is not None else None

    def index(self) -> RuleIndex:
        """The index for the stored rules now (rebuilt here when they changed since the last build)."""
        version = self.repository.version()
        with self._build_lock:
            if self._index is None or version != self._version:
                rules = self.repository.all()
                needs_encoder = any(rule.trigger_kind == "similar" and rule.enabled for rule in rules)
                encode = self._encode() if needs_encoder else None
                self._index = RuleIndex(rules, encode, self.default_threshold, self._vectors)
                self._version = version
                log.info("rule index built: %d enabled rules (version %d)", len(self._index), version)
            return self._index

    async def index_async(self) -> RuleIndex:
        if self._index is not None and self.repository.version() == self._version:
            return self._index
        return await asyncio.to_thread(self.index)

    def find(self, text: str, platform: str, chat_id: str, index: RuleIndex | None = None) -> list[RuleMatch]:
        """Rules `text` triggers in a chat, best first (cooldowns not applied). Blocking: embeds if needed."""
        index = index or self.index()
        vector = None
        if text and index.needs_embedding(platform, chat_id):
            encode = self._encode()
            vector = encode([text])[0] if encode is not None else None
        return index.match(text, platform, chat_id, vector)

    async def find_async(self, text: str, platform: str, chat_id: str) -> list[RuleMatch]:
        index = await self.index_async()
        if index.needs_embedding(platform, chat_id):
            return await asyncio.to_thread(self.find, text, platform, chat_id, index)
        return index.match(text, platform, chat_id)

    # cooldowns ----------------------------------------------------------------------------------------

    def cooldown_for(self, rule: Rule) -> float:
        return self.default_cooldown_s if rule.cooldown_s is None else rule.cooldown_s

    def ready(self, rule: Rule, session: str) -> bool:
        """Whether `rule` may answer in this chat now (its cooldown since it last answered there is over)."""
        last = self._last_fired.get((rule.id, session))
        return last is None or self._clock() - last >= self.cooldown_for(rule)

    def fired(self, rule: Rule, session: str) -> None:
        if len(self._last_fired) > 100_000:
            self._last_fired.clear()
        self._last_fired[(rule.id, session)] = self._clock()

    # responses ----------------------------------------------------------------------------------------

    def plan(self, match: RuleMatch, message: IncomingMessage, text: str) -> PlannedReply:
        """The reply `match.rule` gives to `message` (template rendered; prompt values prepared)."""
        values = template_values(message, match.groups)
        if match.rule.response_kind == "template":
            return PlannedReply(match.rule, text=render_template(match.rule.response, values))
        prompt_values = {"text": text, "user": values["user"], "chat": values["chat"]}
        return PlannedReply(match.rule, prompt_name=match.rule.response, prompt_values=tuple(prompt_values.items()))
