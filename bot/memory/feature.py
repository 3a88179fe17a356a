"""The memory feature: remembers what members say about themselves, answers follow-ups, and `/memory`.

Routing: `MemoryObserver` runs with the guards (after automod and rate limits), so facts are kept whatever
route answers the turn; it never answers. `MemoryRoute` goes before the knowledge base and the model: it
answers memory follow-ups from stored facts and acknowledges a plain self-introduction. The model sees the
facts through the manager's prompt hooks (`memory_block`).
"""

from __future__ import annotations

import asyncio
import logging
import re

from bot.language import detect_language
from bot.memory import texts
from bot.memory.block import memory_block
from bot.memory.extraction import ADDRESS_AS, NAME, Fact, extract_by_clause
from bot.memory.facts import FactStore, MemoryScope, StoredFact
from bot.memory.recall import EVERYTHING, LAST_SAID, MemoryQuestion, memory_question
from bot.memory.semantic_recall import SemanticFollowUps, load_canonical_follow_ups
from bot.memory.summary import ConversationSummaries
from bot.multilingual_encoder import MultilingualEncoderError, shared_multilingual_encoder
from bot.plugin import ANSWER_MEMORY, GUARD_MEMORY, BaseFeature, FeatureContext
from bot.privacy.settings import PrivacySection
from bot.routing import Command, RouteReply, TurnContext
from bot.store import Store

log = logging.getLogger(__name__)

MAX_ACK_CHARS = 160
_GREETING = re.compile(
    r"^(?:hi|hello|hey|thanks|thank you|ok|hola|gracias|bonjour|salut|merci|hallo|danke|olá|ola|obrigad[oa]|你好|谢谢)"
    r"[\s,.!]*$",
    re.IGNORECASE,
)


def is_plain_statement(text: str, clauses: list[tuple[str, list[Fact]]]) -> bool:
    """True when `text` only states facts (and greets): nothing is asked or requested that needs an answer."""
    if len(text) > MAX_ACK_CHARS or "?" in text or "？" in text or not any(facts for _, facts in clauses):
        return False
    for clause, facts in clauses:
        if not facts:
            if not _GREETING.match(clause):
                return False
            continue
        value_words = sum(len(fact.value.split()) for fact in facts)
        if len(clause.split()) > value_words + 6:
            return False
    return True


class MemoryObserver:
    """Keeps the facts an addressed message states about its writer; never answers."""

    name = "memory:observe"
    guards_commands = True

    def __init__(self, facts: FactStore) -> None:
        self.facts = facts

    async def respond(self, turn: TurnContext) -> RouteReply | None:
        if not turn.addressed or not turn.text or turn.text.startswith("/"):
            return None
        if turn.input_flag is not None and turn.input_flag.blocked:
            return None
        clauses = extract_by_clause(turn.text)
        found = [fact for _, facts in clauses for fact in facts]
        if found:
            self.facts.remember(MemoryScope.of(turn.message), found, turn.stored_message_id, turn.text)
            log.info(
                "remembered %d facts (%s)",
                len(found),
                ", ".join(f.kind for f in found),
                extra={"session": turn.session_id},
            )
        return None


class MemoryRoute:
    """Answers "what's my name?"-style follow-ups from memory, and acknowledges a plain introduction."""

    name = "memory"

    def __init__(
        self, facts: FactStore, store: Store | None = None, by_meaning: SemanticFollowUps | None = None
    ) -> None:
        self.facts = facts
        self.store = store
        self.by_meaning = by_meaning

    def _question(self, text: str) -> MemoryQuestion | None:
        """The regex patterns first, then (when installed) the follow-ups recognised by meaning."""
        question = memory_question(text)
        if question is not None or self.by_meaning is None:
            return question
        try:
            return self.by_meaning.question(text)
        except MultilingualEncoderError as error:
            log.warning("memory follow-ups by meaning unavailable: %s", error)
            self.by_meaning = None
            return None

    async def respond(self, turn: TurnContext) -> RouteReply | None:
        if not turn.addressed or not turn.text or turn.text.startswith("/"):
            return None
        scope = MemoryScope.of(turn.message)
        question = await asyncio.to_thread(self._question, turn.text)
        if question is not None and question.kind == LAST_SAID:
            return self._last_said(turn, reply_language(turn.text, question.language))
        if question is not None:
            return self._answer(scope, question.kind, reply_language(turn.text, question.language))
        clauses = extract_by_clause(turn.text)
        if is_plain_statement(turn.text, clauses):
            facts = [fact for _, found in clauses for fact in found]
            names = [fact for fact in facts if fact.kind == NAME]
            language = reply_language(turn.text, facts[0].language)
            text = texts.text("ack_name", language, value=names[0].value) if names else texts.text("ack", language)
            return RouteReply(text, "memory:noted", gate=False, details={"outcome": "memory", "facts": len(facts)})
        return None

    def _last_said(self, turn: TurnContext, language: str) -> RouteReply | None:
        """The person's previous message in this conversation, quoted; None without a store (the model answers)."""
        if self.store is None:
            return None
        history = self.store.history(turn.conversation_id, limit=20, before_id=turn.stored_message_id)
        earlier = [message for message in history if message.role == "user" and message.user_id == turn.user_id]
        if not earlier:
            text = texts.text("last_said_none", language)
        else:
            text = texts.text("last_said", language, value=earlier[-1].text.strip()[:300])
        # Like the recalled facts, the quote is the person's own words, already posted in this chat.
        return RouteReply(text, "memory:last_said", gate=False, details={"outcome": "memory", "kind": LAST_SAID})

    def _answer(self, scope: MemoryScope, kind: str, language: str) -> RouteReply:
        if kind == EVERYTHING:
            return RouteReply(describe_memory(self.facts.facts(scope), language), "memory:list", gate=False)
        known = self.facts.latest(scope, kind)
        if not known and kind in (NAME, ADDRESS_AS):  # "call me Sam" answers "what's my name?" too
            known = self.facts.latest(scope, ADDRESS_AS if kind == NAME else NAME)
        if not known:
            label = texts.text(f"label_{kind}", language)
            text = texts.text("unknown", language, label=label)
            return RouteReply(text, "memory:unknown", gate=False, details={"outcome": "memory", "kind": kind})
        if len(known) > 1:  # several preferences or allergies: all of them, newest first
            text = " ".join(fact_sentence_in(fact, language) for fact in known[:5])
        else:
            text = fact_sentence_in(known[0], language)
        return RouteReply(text, "memory:recall", gate=False, details={"outcome": "memory", "kind": kind})


def reply_language(text: str, matched: str) -> str:
    """The language a memory reply is written in: the message's own when the detector is sure of it, else the
    language of the phrasing that matched. Spanish and Portuguese share phrasings ("número de pedido"), so the
    phrasing alone can name the wrong one of the two."""
    guess = detect_language(text)
    return guess.code if guess.reliable and guess.code in texts.languages() else matched


def fact_sentence_in(fact: StoredFact, language: str) -> str:
    """The fact in plain words with the day it was said (YYYY-MM-DD)."""
    return texts.text(fact.kind, language, value=fact.value, date=fact.created_at[:10])


def describe_memory(facts: list[StoredFact], language: str) -> str:
    """The numbered list `/memory` shows, oldest first, each with its date."""
    if not facts:
        return texts.text("empty", language)
    lines = [texts.text("list_header", language)]
    lines.extend(f"{number}. {fact_sentence_in(fact, language)}" for number, fact in enumerate(facts, start=1))
    lines.append(texts.text("list_footer", language))
    return "\n".join(lines)


class MemoryFeature(BaseFeature):
    """Long-term memory per member, platform and community, plugged into a BotApp."""

    name = "memory"

    def __init__(self, section: PrivacySection | None = None) -> None:
        self.section = section
        self.facts: FactStore | None = None
        self.store: Store | None = None

    def install(self, context: FeatureContext) -> None:
        section = self.section or context.section(PrivacySection)
        self.section = section
        self.store = context.store
        self.facts = FactStore(context.store)
        context.add_command(
            Command("memory", "what I remember about you", self._cmd_memory, usage="[forget N|forget all]")
        )
        if not section.memory:
            return
        # The observer notes facts after the guards (automod, rate limits) and never answers; the route
        # answers memory questions after auto-replies and before the knowledge base.
        context.add_route(MemoryObserver(self.facts), GUARD_MEMORY, stage="guard", stops=False)
        bot = context.config.settings.bot
        folders = [context.config.resolve_path(bot.prompts_dir)] if bot.prompts_dir else []
        by_meaning = SemanticFollowUps(load_canonical_follow_ups(folders), shared_multilingual_encoder())
        context.add_route(MemoryRoute(self.facts, context.store, by_meaning), ANSWER_MEMORY)
        context.add_prompt_hook(self.prompt_block)

    def prompt_block(self, turn: TurnContext) -> str:
        assert self.store is not None and self.section is not None
        return memory_block(self.store, turn, self.section.memory_prompt_chars)

    def forget_user(self, platform: str, user_id: str) -> int:
        """Every remembered fact of the person, in every community, and their lines in summaries."""
        assert self.store is not None, "install() first"
        with self.store.transaction() as db:
            removed = db.execute(
                "delete from memory_facts where platform = ? and platform_user_id = ?", [platform, user_id]
            ).rowcount
            row = db.execute(
                "select id from users where platform = ? and platform_user_id = ?", [platform, user_id]
            ).fetchone()
        if row is not None:
            removed += ConversationSummaries(self.store).forget_user(int(row[0]))
        return int(removed)

    async def _cmd_memory(self, turn: TurnContext, args: str) -> str:
        assert self.facts is not None
        scope = MemoryScope.of(turn.message)
        facts = await asyncio.to_thread(self.facts.facts, scope)
        language = facts[-1].language if facts else "en"
        words = args.lower().split()
        if not words:
            return describe_memory(facts, language)
        if words[0] != "forget" or len(words) != 2:
            return texts.text("usage", language)
        if words[1] == "all":
            removed = self.facts.forget_all(scope)
            return texts.text("forgot_all", language, n=removed)
        if not words[1].isdigit() or not 1 <= int(words[1]) <= len(facts):
            return texts.text("no_such_item", language, n=words[1][:20])
        self.facts.forget(scope, facts[int(words[1]) - 1].id)
        return texts.text("forgot_one", language, n=int(words[1]))
