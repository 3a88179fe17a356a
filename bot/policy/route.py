"""The turn policy's routes: one sets the turn's language before anything answers, one answers the turn by its kind.

Kinds and how each is answered:
- self-harm: a caring fixed text pointing to help; harmful request (by its words, in seven languages, or by the
  English MiniLM request model at `REFUSAL_THRESHOLD`, or by the multilingual USE request model): a fixed refusal;
- small talk: a curated reply from the owner-editable set (near matches too; the model only when
  `model_small_talk` is on, checked);
- about the person ("What's my name?"): left to the memory route and the model, which see the history;
- about the business (a business word or any question): only from the knowledge base; without a confident
  answer (or without a knowledge base) an honest decline in the person's language with the offer of a person;
- anything else: the knowledge base when it answers confidently, else the model, checked for business claims,
  language and degeneration (one regeneration, then a fixed fallback).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from bot.context import build_prompt
from bot.engine.base import Engine, EngineBusy, EngineError, GenerationRequest, GenerationSettings
from bot.i18n import current_language, language_name, set_turn_language
from bot.kb.answering import KbAnswerer
from bot.kb.knowledge_base import KnowledgeBase
from bot.policy.checks import ReplyCheck, check_reply
from bot.policy.languages import ConversationLanguages
from bot.policy.settings import PolicySection
from bot.policy.signals import (
    is_about_business,
    is_harmful_request,
    is_personal,
    is_preference_question,
    is_question,
    is_self_harm,
)
from bot.policy.small_talk import SmallTalkMatch, SmallTalkSet
from bot.policy.small_talk_semantic import SemanticSmallTalk
from bot.prompts import PromptLibrary
from bot.routing import RouteReply, TurnContext
from bot.store import Store

log = logging.getLogger(__name__)

TurnKind = Literal[
    "self_harm",
    "harmful",
    "small_talk",
    "near_small_talk",
    "greeting_question",
    "semantic_small_talk",
    "personal",
    "business",
    "other",
]
# A near small-talk match is only small talk in a short message.
NEAR_SMALL_TALK_WORDS = 8
# A question needs a closer match to count as near small talk: "do you have oat milk?" is only 0.67 from
# "do you have feelings", "are you a bot or what?" is 0.8 from "are you a bot".
NEAR_SMALL_TALK_QUESTION = 0.8
# The kinds a greeting-led question may be near to count as small talk: how the bot is doing.
GREETING_QUESTION_KINDS = frozenset({"how_are_you", "feeling_good"})
# The curated kind that answers questions about the bot's own tastes.
PREFERENCE_KIND = "about_you"


@dataclass(frozen=True)
class TurnClass:
    """What a message is, and the small-talk match that decided it (if any)."""

    kind: TurnKind
    small_talk: SmallTalkMatch | None = None


def classify_turn(
    text: str, small_talk: SmallTalkSet, flagged_harmful: bool = False, semantic: SemanticSmallTalk | None = None
) -> TurnClass:
    """Decide what `text` is. Harm first (a greeting never hides it), then curated small talk (a knowledge base
    never sees "how are you?"), then questions about the person, then about the business."""
    if is_self_harm(text):
        return TurnClass("self_harm")
    if flagged_harmful or is_harmful_request(text):
        return TurnClass("harmful")
    match = small_talk.match(text)
    business = is_about_business(text)
    # A business word in a message that is not exactly small talk is a business question ("hi, are you open?").
    if match is not None and match.strong and (not business or match.score >= 1.0):
        return TurnClass("small_talk", match)
    if is_personal(text):
        return TurnClass("personal")
    short = len(text.split()) <= NEAR_SMALL_TALK_WORDS
    # A short question near small talk with no business word in it is about the bot ("are you a real person?",
    # "who made you?"), not about the business: a knowledge base must not turn it into a decline.
    question = is_question(text)
    if match is not None and short and not business and (not question or match.score >= NEAR_SMALL_TALK_QUESTION):
        return TurnClass("near_small_talk", match)
    # A greeting, then a short question near "how are you?" with no business word ("Guten Abend, wie läuft's bei
    # dir?"): the knowledge base answers it when it is sure, else it is small talk, never a decline. Nearness to
    # other kinds is not enough ("hi, do you have oat milk?" is near "do you have feelings").
    if (
        match is not None
        and match.kind in GREETING_QUESTION_KINDS
        and short
        and not business
        and small_talk.opens_with_greeting(text)
    ):
        return TurnClass("greeting_question", match)
    if short and not business and is_preference_question(text):
        return TurnClass("near_small_talk", SmallTalkMatch(PREFERENCE_KIND, NEAR_SMALL_TALK_QUESTION, ()))
    # Small talk in words no example holds ("what do you do for fun?"), by meaning; never with a business word.
    meant = semantic.match(text) if semantic is not None and not business else None
    if meant is not None:
        return TurnClass("semantic_small_talk", meant)
    if business or question:
        return TurnClass("business", match)
    return TurnClass("other", match)


class LanguageRoute:
    """Decides the turn's language before commands and features answer, so every fixed text is rendered in it.

    It never answers: it sets the language (see `bot.i18n`) and lets the turn go on.
    """

    name = "policy:language"
    guards_commands = True

    def __init__(self, languages: ConversationLanguages, small_talk: SmallTalkSet) -> None:
        self.languages = languages
        self.small_talk = small_talk

    async def respond(self, turn: TurnContext) -> RouteReply | None:
        # A command's name ("/help", "/human") says nothing about the person's language.
        text = "" if turn.text.startswith("/") else turn.text
        match = self.small_talk.match(text) if text else None
        hints = match.example_languages if match is not None else ()
        chosen = await asyncio.to_thread(self.languages.resolve, turn.conversation_id, text, hints)
        set_turn_language(chosen.code)
        return None


# P(the message asks for something harmful), from the MiniLM request model the harm check's pair mode reads.
RequestHarmScore = Callable[[str], float]
# Whether the request models refuse the message (`bot.policy.feature.RequestRefusal`: English or multilingual).
RequestRefusalCheck = Callable[[str], bool]


@dataclass(frozen=True)
class PersonaText:
    """What the model is told about who it is, rendered per turn (today's date changes)."""

    render: Callable[[], str]


class TurnPolicyRoute:
    """Answers each addressed turn the way its kind must be answered (see the module docstring)."""

    name = "policy"

    def __init__(
        self,
        settings: PolicySection,
        small_talk: SmallTalkSet,
        prompts: PromptLibrary,
        engine: Engine,
        store: Store,
        persona: PersonaText,
        generation: GenerationSettings,
        languages: ConversationLanguages,
        bot_name: str,
        community_name: str,
        history_token_budget: int,
        kb: KnowledgeBase | None = None,
        answerer: KbAnswerer | None = None,
        refuses_request: RequestRefusalCheck | None = None,
        semantic_small_talk: SemanticSmallTalk | None = None,
    ) -> None:
        self.settings = settings
        self.small_talk = small_talk
        self.prompts = prompts
        self.engine = engine
        self.store = store
        self.persona = persona
        self.languages = languages
        self.bot_name = bot_name
        self.community_name = community_name
        self.history_token_budget = history_token_budget
        self.kb = kb
        self.answerer = answerer
        self.refuses_request = refuses_request
        self.semantic_small_talk = semantic_small_talk
        self.generation = replace(
            generation,
            max_new_tokens=settings.max_new_tokens,
            repetition_penalty=max(generation.repetition_penalty, 1.15),
        )

    async def respond(self, turn: TurnContext) -> RouteReply | None:
        if not turn.addressed or not turn.text or turn.text.startswith("/"):
            return None
        language = current_language()
        if language is None:
            language = (await asyncio.to_thread(self.languages.resolve, turn.conversation_id, turn.text)).code
            set_turn_language(language)
        flagged = turn.input_flag is not None and "harmful" in turn.input_flag.reasons
        if not flagged and self.refuses_request is not None and not is_self_harm(turn.text):
            flagged = await asyncio.to_thread(self.refuses_request, turn.text)
        decided = await asyncio.to_thread(classify_turn, turn.text, self.small_talk, flagged, self.semantic_small_talk)
        details: dict[str, object] = {"kind": decided.kind, "language": language}
        if decided.kind == "self_harm":
            return self._fixed("self_harm_support", "policy:self_harm", {**details, "outcome": "refused"})
        if decided.kind == "harmful":
            return self._fixed("refusal", "policy:refusal", {**details, "outcome": "refused"})
        if decided.kind == "small_talk":
            assert decided.small_talk is not None
            return self._small_talk(turn, decided.small_talk, language, details)
        if decided.kind == "personal":
            return None  # the memory route (before this one) or the model, which both see the history
        if decided.kind == "business":
            return await self._business(turn, details)
        if decided.kind in ("greeting_question", "semantic_small_talk") and decided.small_talk is not None:
            kb_reply = await self._kb_if_confident(turn, details)
            if kb_reply is not None:
                return kb_reply
            # A greeting-led question asks how the bot is ("tudo bem com você?"), whichever kind it was nearer.
            asked = replace(decided.small_talk, kind="how_are_you") if decided.kind == "greeting_question" else None
            return self._small_talk(turn, asked or decided.small_talk, language, details)
        if decided.kind == "near_small_talk" and decided.small_talk is not None:
            if self.settings.model_small_talk:
                reply = await self._checked_model_reply(turn, language, details)
                if reply is not None:
                    return reply
            return self._small_talk(turn, decided.small_talk, language, details)
        kb_reply = await self._kb_if_confident(turn, details)
        if kb_reply is not None:
            return kb_reply
        if self.settings.model_other:
            reply = await self._checked_model_reply(turn, language, details)
            if reply is not None:
                return reply
        details["outcome"] = "declined"
        return self._fixed("cannot_help", "policy:cannot_help", details, community_name=self.community_name)

    # the ways to answer -----------------------------------------------------------------------------

    def _fixed(self, prompt: str, source: str, details: dict[str, object], **values: object) -> RouteReply:
        return RouteReply(self.prompts.render(prompt, **values), source, gate=False, details=dict(details))

    def _small_talk(
        self, turn: TurnContext, match: SmallTalkMatch, language: str, details: dict[str, object]
    ) -> RouteReply:
        text = self.small_talk.reply(
            match.kind,
            language,
            turn.stored_message_id,
            bot_name=self.bot_name,
            community_name=self.community_name,
        )
        details = {**details, "small_talk": match.kind, "match": round(match.score, 3), "outcome": "small_talk"}
        # Owner-written replies go out as written, like every fixed text (the gate must never block "hi").
        return RouteReply(text, "policy:small_talk", gate=False, details=details)

    async def _business(self, turn: TurnContext, details: dict[str, object]) -> RouteReply:
        if self.kb is None or self.answerer is None or await asyncio.to_thread(self.kb.is_empty):
            details = {**details, "outcome": "declined", "mode": "no_kb", "sources": []}
            return self._fixed("kb_decline", "policy:no_kb", details)
        answer = await self.answerer.answer(turn.text, conversation_id=turn.session_id)
        gate = answer.mode in ("generated", "faq_rephrased")
        return RouteReply(answer.text, f"kb:{answer.mode}", gate=gate, details={**details, **answer.details()})

    async def _kb_if_confident(self, turn: TurnContext, details: dict[str, object]) -> RouteReply | None:
        if self.kb is None or self.answerer is None or await asyncio.to_thread(self.kb.is_empty):
            return None
        answer = await self.answerer.answer(turn.text, conversation_id=turn.session_id)
        if answer.outcome != "answered":
            return None
        gate = answer.mode in ("generated", "faq_rephrased")
        return RouteReply(answer.text, f"kb:{answer.mode}", gate=gate, details={**details, **answer.details()})

    async def _checked_model_reply(
        self, turn: TurnContext, language: str, details: dict[str, object]
    ) -> RouteReply | None:
        """The model's reply when it passes the checks on the first or second try; None when both fail.
        A busy or failing engine gets the localized busy/error text."""
        history = self.store.history(turn.conversation_id, limit=20, before_id=turn.stored_message_id)
        rules = self.prompts.render("chat_rules", language=language_name(language), community_name=self.community_name)
        prompt = build_prompt(
            f"{self.persona.render()}\n{rules}", history, turn.text, self.history_token_budget, self.engine.count_tokens
        )
        problems: list[str] = []
        for attempt in range(2):
            settings = self.generation if attempt == 0 else replace(self.generation, temperature=0.7, seed=attempt)
            try:
                result = await self.engine.generate(GenerationRequest(prompt.turns, settings))
            except EngineBusy:
                return self._fixed("busy", "busy", details)
            except EngineError:
                log.warning("the model failed on a checked reply", extra={"session": turn.session_id})
                return self._fixed("error", "engine_error", details)
            verdict: ReplyCheck = check_reply(result.text, language)
            if verdict.ok:
                extra = {"outcome": "answered", "attempts": attempt + 1, "rejected": problems}
                return RouteReply(verdict.text, "policy:model", gate=True, details={**details, **extra})
            problems.append(str(verdict.problem))
            log.info("model reply rejected (%s)", verdict.problem, extra={"session": turn.session_id})
        details.update({"rejected": problems})
        return None
