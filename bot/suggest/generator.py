"""Drafting posts with the model: several distinct drafts per topic, each gated, stored as `draft`.

Distinctness comes from sampling (temperature, top_p, a different seed each), a different opening angle in
each prompt, and a check that throws away near-duplicates (of each other and of recent drafts) and asks again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from dataclasses import dataclass

from bot.engine.base import ChatTurn, Engine, EngineError, GenerationRequest, GenerationSettings
from bot.moderation.gate import ModerationGate
from bot.prompts import PromptLibrary
from bot.sanitize import clean_text
from bot.store import Store
from bot.suggest import SuggestError
from bot.suggest.drafts import STATUSES, Draft, DraftStore
from bot.suggest.keywords import recent_topics
from bot.suggest.similarity import is_near_duplicate

log = logging.getLogger(__name__)

_LABEL = re.compile(
    r"^(?:here(?:'s| is) (?:a|the|my|one) (?:short )?post:?|post\s*\d*\s*:|draft\s*\d*\s*:)\s*", re.IGNORECASE
)
MAX_DRAFT_CHARS = 1500


@dataclass(frozen=True)
class SuggestSettings:
    """How drafts are generated, from the `[suggest]` config section."""

    max_count: int = 5
    max_new_tokens: int = 120
    temperature: float = 0.85
    top_p: float = 0.95
    repetition_penalty: float = 1.15
    similarity_threshold: float = 0.6
    attempts_per_draft: int = 3
    recent_days: float = 7.0
    recent_messages: int = 2000
    recent_topic_count: int = 5
    max_topic_chars: int = 200


@dataclass(frozen=True)
class Voice:
    """Who the posts speak for: from the `[bot]` config section."""

    bot_name: str = "socialbot"
    community_name: str = "our community"
    tone: str = "friendly and concise"


@dataclass(frozen=True)
class SuggestionResult:
    """The drafts stored for one request, and what shaped or was thrown away on the way."""

    drafts: tuple[Draft, ...]
    recent_topics: tuple[str, ...]
    discarded: int


def tidy_draft(text: str) -> str:
    """The model's text as a post: no label in front, no wrapping quotes, bounded length."""
    cleaned, _ = clean_text(text, MAX_DRAFT_CHARS)
    cleaned = _LABEL.sub("", cleaned).strip()
    if len(cleaned) >= 2 and cleaned[0] == cleaned[-1] and cleaned[0] in "\"'“”":
        cleaned = cleaned[1:-1].strip()
    return cleaned.strip("“”").strip()


class SuggestionService:
    """Writes, gates, deduplicates and stores drafts for a topic."""

    def __init__(
        self,
        engine: Engine,
        gate: ModerationGate,
        prompts: PromptLibrary,
        store: Store,
        settings: SuggestSettings,
        voice: Voice,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.gate = gate
        self.prompts = prompts
        self.store = store
        self.drafts = DraftStore(store)
        self.settings = settings
        self.voice = voice
        self._rng = rng or random.Random()

    def angles(self) -> list[str]:
        lines = self.prompts.render("post_angles").splitlines()
        return [line.strip() for line in lines if line.strip()] or [""]

    def parse_count(self, value: str | int | None) -> int:
        if value is None or value == "":
            return min(3, self.settings.max_count)
        try:
            count = int(value)
        except ValueError:
            raise SuggestError(f"'{value}' is not a number of drafts") from None
        if not 1 <= count <= self.settings.max_count:
            raise SuggestError(f"ask for 1 to {self.settings.max_count} drafts")
        return count

    async def suggest(self, topic: str, count: int, created_by: str = "") -> SuggestionResult:
        """Generate `count` distinct gated drafts about `topic` and store them; raises SuggestError."""
        topic, _ = clean_text(topic, self.settings.max_topic_chars)
        if not topic:
            raise SuggestError("give a topic, e.g. 'summer meetup'")
        count = self.parse_count(count)
        topics = recent_topics(
            self.store, self.settings.recent_days, self.settings.recent_messages, self.settings.recent_topic_count
        )
        angles = self.angles()
        base_seed = self._rng.randrange(2**31)
        earlier = [draft.text for draft in self.drafts.list(STATUSES, limit=30)]
        accepted: list[tuple[str, str, int, str, tuple[str, ...]]] = []
        discarded = errors = attempt = 0
        budget = count * self.settings.attempts_per_draft
        while len(accepted) < count and attempt < budget:
            batch = range(attempt, min(budget, attempt + count - len(accepted)))
            attempt = batch.stop
            plans = [(angles[index % len(angles)], base_seed + index) for index in batch]
            results = await asyncio.gather(
                *(self._generate(topic, topics, angle, seed) for angle, seed in plans), return_exceptions=True
            )
            for (angle, seed), result in zip(plans, results, strict=True):
                if isinstance(result, BaseException):
                    if not isinstance(result, EngineError):
                        raise result
                    errors += 1
                    log.warning("draft generation failed: %s", result)
                    continue
                text = tidy_draft(result)
                if not text:
                    discarded += 1
                    continue
                decision = await asyncio.to_thread(self.gate.check_output, text)
                if decision.blocked:
                    log.info("draft blocked by the gate: %s", ", ".join(decision.reasons))
                    discarded += 1
                    continue
                if is_near_duplicate(
                    decision.text, earlier + [item[0] for item in accepted], self.settings.similarity_threshold
                ):
                    discarded += 1
                    continue
                accepted.append((decision.text, angle, seed, decision.action, decision.reasons))
        if not accepted:
            reason = "the model is busy or failing" if errors else "every draft was blocked or a repeat"
            raise SuggestError(f"no usable draft came out ({reason}); try again or rephrase the topic")
        stored = tuple(
            self.drafts.add(
                text,
                topic=topic,
                angle=angle,
                seed=seed,
                moderation_action=action,
                moderation_reasons=reasons,
                created_by=created_by,
            )
            for text, angle, seed, action, reasons in accepted
        )
        log.info("stored %d drafts about %r (%d discarded)", len(stored), topic[:40], discarded)
        return SuggestionResult(stored, tuple(topics), discarded)

    async def _generate(self, topic: str, topics: list[str], angle: str, seed: int) -> str:
        system = self.prompts.render(
            "post_system", bot_name=self.voice.bot_name, community_name=self.voice.community_name, tone=self.voice.tone
        )
        user = self.prompts.render(
            "post_draft", community_name=self.voice.community_name, topic=topic, angle=angle, recent_topics=topics
        )
        settings = GenerationSettings(
            max_new_tokens=self.settings.max_new_tokens,
            temperature=self.settings.temperature,
            top_p=self.settings.top_p,
            repetition_penalty=self.settings.repetition_penalty,
            seed=seed,
        )
        result = await self.engine.generate(
            GenerationRequest((ChatTurn("system", system), ChatTurn("user", user)), settings)
        )
        return result.text
