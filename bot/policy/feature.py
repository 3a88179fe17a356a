"""The turn-policy feature: installs the language route (first of all routes) and the policy route (after the
knowledge base's handoff, the auto-reply rules and any route listed before it, such as memory follow-ups)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from bot.kb.answering import KbAnswerer
from bot.kb.knowledge_base import KnowledgeBase
from bot.language import default_detector
from bot.moderation.gate import ModerationGate
from bot.moderation.request_harm import REFUSAL_THRESHOLD, MultilingualRequestHarm, RequestHeadError
from bot.multilingual_encoder import MultilingualEncoderError, shared_multilingual_encoder
from bot.plugin import ANSWER_POLICY, GUARD_LANGUAGE, BaseFeature, FeatureContext
from bot.policy.languages import ConversationLanguages
from bot.policy.route import LanguageRoute, PersonaText, RequestHarmScore, TurnPolicyRoute
from bot.policy.settings import PolicySection
from bot.policy.small_talk import SmallTalkSet
from bot.policy.small_talk_semantic import SemanticHead, SemanticSmallTalk

logger = logging.getLogger(__name__)


class GateRequestHarm:
    """P(harmful request) from the gate's own request model (loaded once, shared), 0.0 when the harm check runs
    without pair mode. Looked up on each call, not at install: a gate loading in the background would block it."""

    def __init__(self, gate: ModerationGate) -> None:
        self.gate = gate

    def __call__(self, text: str) -> float:
        from bot.moderation.harm import HarmClassifier

        harm = self.gate.harm
        if isinstance(harm, HarmClassifier) and harm.pair is not None:
            return harm.pair.request.score(text)
        return 0.0


class RequestRefusal:
    """Whether a request is refused: either request model calls it harmful. The gate's English MiniLM model
    (at ``REFUSAL_THRESHOLD``) reads English only; the multilingual USE head (at its own threshold) reads the
    encoder's 16 languages. The multilingual head is loaded on first use; without its encoder's wheel it is
    skipped (logged once) and the English model decides alone."""

    def __init__(self, english: RequestHarmScore, multilingual: MultilingualRequestHarm | None = None) -> None:
        self.english = english
        self._multilingual = multilingual
        self._multilingual_unavailable = False

    def multilingual(self) -> MultilingualRequestHarm | None:
        if self._multilingual is None and not self._multilingual_unavailable:
            try:
                self._multilingual = MultilingualRequestHarm.load()
            except (RequestHeadError, MultilingualEncoderError) as error:
                logger.warning("multilingual request model unavailable, English only: %s", error)
                self._multilingual_unavailable = True
        return self._multilingual

    def __call__(self, text: str) -> bool:
        if self.english(text) >= REFUSAL_THRESHOLD:
            return True
        multilingual = self.multilingual()
        try:
            return multilingual is not None and multilingual.refuses(text)
        except MultilingualEncoderError as error:
            logger.warning("multilingual request model unavailable, English only: %s", error)
            self._multilingual_unavailable = True
            self._multilingual = None
            return False


class PolicyFeature(BaseFeature):
    """Decides what each addressed message is and answers it accordingly (see `bot.policy.route`)."""

    name = "policy"

    def __init__(self) -> None:
        self.route: TurnPolicyRoute | None = None
        self.small_talk: SmallTalkSet | None = None

    def install(self, context: FeatureContext) -> None:
        settings = context.config.settings
        policy = context.section(PolicySection)
        if not policy.enabled:
            return
        bot = settings.bot
        folders = [context.config.resolve_path(bot.prompts_dir)] if bot.prompts_dir else []
        self.small_talk = SmallTalkSet.load(folders).with_names(bot.name)
        languages = ConversationLanguages(context.store, default=bot.language)
        semantic = (
            SemanticSmallTalk(self.small_talk, shared_multilingual_encoder(), SemanticHead.load())
            if policy.semantic_small_talk
            else None
        )
        # Offered by the knowledge-base feature when it is installed and enabled.
        kb = context.services.get(KnowledgeBase)
        answerer = context.services.get(KbAnswerer)

        def persona() -> str:
            return context.prompts.render(
                bot.persona_prompt,
                bot_name=bot.name,
                community_name=bot.community_name,
                tone=bot.tone,
                today=datetime.now(UTC).strftime("%A %d %B %Y"),
            )

        self.route = TurnPolicyRoute(
            policy,
            self.small_talk,
            context.prompts,
            context.engine,
            context.store,
            PersonaText(persona),
            context.generation,
            languages,
            bot_name=bot.name,
            community_name=bot.community_name,
            history_token_budget=bot.history_token_budget,
            kb=kb,
            answerer=answerer,
            refuses_request=RequestRefusal(GateRequestHarm(context.gate)),
            semantic_small_talk=semantic,
        )
        context.add_route(LanguageRoute(languages, self.small_talk), GUARD_LANGUAGE, stage="guard", stops=False)
        context.add_route(self.route, ANSWER_POLICY)

    async def start(self) -> None:
        """Load the language detector's models now, so the first message is not slowed."""
        if self.route is not None:
            await asyncio.to_thread(default_detector().warm_up)
