"""From a question and the knowledge base to an answer the owner can stand behind, or an honest decline.

The order of preference: a curated FAQ answer when an FAQ question matches closely (verbatim by default);
otherwise the model answers from the top passages with a short grounded prompt, and that answer is kept only
when the passages support it; otherwise the passages' most relevant sentences are quoted. When retrieval is
not confident the bot says it does not know and offers a person, instead of guessing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from bot.engine.base import ChatTurn, Engine, EngineError, GenerationRequest, GenerationSettings
from bot.kb import KbError
from bot.kb.actions import missing_actions
from bot.kb.answerability import AnswerabilityJudge, default_weights_dir, passage_text
from bot.kb.documents import split_sentences
from bot.kb.knowledge_base import STOPWORDS, VERSION_KEY, KbHit, KnowledgeBase
from bot.kb.poison import instruction_phrase, without_instructions
from bot.kb.settings import KbSection
from bot.prompts import PromptLibrary

log = logging.getLogger(__name__)

Outcome = Literal["answered", "declined", "handoff"]

_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_TOKEN = re.compile(r"[a-z0-9]+")
_SMALL_TALK = re.compile(
    r"^\W*(hi+|hello+|hey+|yo|hiya|howdy|good (morning|afternoon|evening|night)|thanks?( you)?( so much| a lot)?|"
    r"thx|ty|cheers|ok(ay)?|cool|great|nice|bye|goodbye|see you|how are you( doing)?|who are you|"
    r"what('s| is) your name)\W*(\w+\W*)?$",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"\b(not|no|never|cannot|nor|none)\b|n't\b", re.IGNORECASE)
_LIST_ITEM = re.compile(r"^\s*[-*]\s", re.MULTILINE)

# Sentence ranking: cosine + OVERLAP_WEIGHT * share of question words + PASSAGE_WEIGHT * passage score, over the
# sentences of the SENTENCE_PASSAGES best passages; sections up to WHOLE_SECTION_CHARS are quoted whole.
# All four were chosen on the calibration split of eval/kb (answer accuracy, retrieval alone).
OVERLAP_WEIGHT = 0.3
# The overlap weighs each question word by its IDF over the passages (see `KbAnswerer._term_weights`), and
# PASSAGE_OVERLAP_WEIGHT x the same share over the sentence's whole passage is added: it only changes which
# passage the answer comes from, toward the one holding the question's rare words.
IDF_OVERLAP = True
PASSAGE_OVERLAP_WEIGHT = 0.15
PASSAGE_WEIGHT = 0.5
SENTENCE_PASSAGES = 3
WHOLE_SECTION_CHARS = 220
# Within such a short section, a sentence sharing no word with the question and this much less similar to it
# than the closest sentence is left out of the quote (see `KbAnswerer._sentences_about`). Chosen between the gaps
# of our café set (0.31-0.42 for sentences about something else) and those of sentences that answer on
# the tuning intents of eval/kb_benchmarks (0.11-0.12).
OFF_TOPIC_GAP = 0.25
# With a judge, the answering sentence of a longer passage is chosen by ranking score + JUDGE_SENTENCE_WEIGHT x
# the judge's logit for the sentence alone (over its JUDGED_SENTENCES best sentences), and the runner-up is quoted
# too within JUDGED_RUNNER_UP_MARGIN. Chosen on the tuning intents of eval/kb_benchmarks (CLINC150, Banking77):
# the answer sentence was quoted for 0.805 / 0.829 of in-scope questions, against 0.78 / 0.71 without the judge.
JUDGE_SENTENCE_WEIGHT = 0.1
JUDGED_SENTENCES = 6
JUDGED_RUNNER_UP_MARGIN = 0.33
# Sentence embeddings kept between questions (about 1.5 KB each).
SENTENCE_CACHE_SIZE = 20_000
# Confidence = sigmoid(w1 * sentence cosine + w2 * IDF-weighted coverage + w3 * rarity of the rarest missing
# word [+ w4 * the answerability judge's logit] + bias): a logistic regression fit on the calibration split of
# eval/kb by scripts/fit_kb_confidence.py (L2, C=10, in scope vs out of scope). Its bias puts the operating
# point chosen there at the shipped `answer_threshold` of 0.46: the best answer accuracy + decline recall while
# accuracy stays at 0.85 or more. There (refitted with the IDF-weighted sentence ranking), without the judge: 80%
# of out-of-scope questions declined at 0.89 accuracy (78% at 0.90 under 5-fold cross-validation); with it: 95%
# at 0.91.
CONFIDENCE_WEIGHTS = (9.18, 2.7, -0.92, -5.17)
JUDGED_CONFIDENCE_WEIGHTS = (8.77, 0.77, 0.02, 0.41, -4.65)
# With the judge, the shipped `DeclineModel` (more signals, fitted on third-party tuning intents) is used instead;
# JUDGED_CONFIDENCE_WEIGHTS only when its file is missing. On CLINC150/Banking77 tuning questions the judged weights
# declined 0.51 of what had to be declined at 0.87 accuracy, the decline model 0.89 at 0.78 (grouped by intent).
DECLINE_MODEL_FILE = default_weights_dir() / "kb_decline.json"

# Signals `KbAnswerer._recorded_signals` computes, only when a decline model (or a fit) reads them.
_RECORDED_ONLY = frozenset(
    {
        "dense_margin",
        "rank_agreement",
        "owner_question_similarity",
        "owner_question_margin",
        "similarity_z",
        "neighbour_similarity",
    }
)

# Words a direct reply adds without asserting anything the passages must hold.
_REPLY_WORDS = {"yes", "sure"}
_UNSURE = re.compile(r"\b(i don'?t know|i do not know|not sure|no information|cannot answer|can'?t answer)\b", re.I)


@dataclass(frozen=True)
class KbSettings:
    """The answerer's knobs, from the `[kb]` config section."""

    top_k: int = 2
    answer_threshold: float = 0.46
    faq_threshold: float = 0.85
    answer_mode: Literal["grounded", "extractive"] = "grounded"
    rephrase_faq: bool = False
    cite_sources: bool = True
    prompt_passage_chars: int = 400
    max_new_tokens: int = 64
    pass_small_talk: bool = True
    generate_min_chars: int = 300

    @classmethod
    def from_section(cls, section: KbSection) -> KbSettings:
        return cls(
            top_k=section.top_k,
            answer_threshold=section.answer_threshold,
            faq_threshold=section.faq_threshold,
            answer_mode=section.answer_mode,
            rephrase_faq=section.rephrase_faq,
            cite_sources=section.cite_sources,
            prompt_passage_chars=section.prompt_passage_chars,
            max_new_tokens=section.max_new_tokens,
            pass_small_talk=section.pass_small_talk,
            generate_min_chars=section.generate_min_chars,
        )


@dataclass(frozen=True)
class KbAnswer:
    """The knowledge base's reply to one question, with what it was based on."""

    outcome: Outcome
    text: str
    mode: str  # "faq", "faq_rephrased", "generated", "extractive" or "declined"
    hits: tuple[KbHit, ...]
    confidence: float
    cited: tuple[KbHit, ...] = ()

    def details(self) -> dict[str, Any]:
        """What `socialbot ask --json` and the stored reply show: outcome, mode, sources with scores."""
        return {
            "outcome": self.outcome,
            "mode": self.mode,
            "confidence": round(self.confidence, 4),
            "sources": [hit.as_dict() for hit in self.hits],
            "cited": [hit.title for hit in self.cited],
        }


@dataclass(frozen=True)
class ConfidenceSignals:
    """What decides between answering and declining; see `KbAnswerer._signals`."""

    similarity: float
    coverage: float
    missing_rarity: float
    judge_logit: float | None = None
    # How far the answering passage leads the best passage of another document (hybrid score, judge logit):
    # a question halfway between two documents is usually about a third thing neither covers.
    margin: float = 0.0
    judge_margin: float = 0.0
    # 1.0 when the question asks for an action the passage never speaks of (see `bot.kb.actions`).
    action_missing: float = 0.0
    vector_score: float = 0.0
    lexical_score: float = 0.0
    # The best sentence's similarity to the question with the words no passage holds taken out (names, places,
    # dates, amounts: "block my chase account", "a flight from JFK on May 5"), so that the slot values a
    # customer adds do not dilute how close the rest of the question is; equals `similarity` when every word
    # is known.
    masked_similarity: float = 0.0
    # Recorded for decline fits (scripts/fit_kb_decline.py); the shipped model reads those its file names.
    # The answering passage's dense score over the best dense score of another document.
    dense_margin: float = 0.0
    # 1.0 when the passages ranked first by dense and by lexical score are of the answering passage's document.
    rank_agreement: float = 0.0
    # How many of the question's content words the answering passage lacks (capped at 4, over 4).
    missing_words: float = 0.0
    # The question's cosine to the closest question the owner wrote for the passage (0.0 when none).
    owner_question_similarity: float = 0.0
    # That cosine minus the same for the best passage of another document among the hits: a near miss asks the
    # question the owner wrote for a neighbouring document.
    owner_question_margin: float = 0.0
    # The passage's dense score as standard deviations above the question's mean score over all passages.
    similarity_z: float = 0.0
    # The passage's cosine to the closest passage of another document (a crowded neighbourhood).
    neighbour_similarity: float = 0.0

    def value(self, name: str) -> float:
        """The signal called `name` (a field name), for a `DeclineModel`."""
        found = getattr(self, name)
        if not isinstance(found, float | int):
            raise KbError(f"signal {name!r} has no value")
        return float(found)


@dataclass(frozen=True)
class DeclineModel:
    """Logistic weights over named `ConfidenceSignals`, fitted on third-party tuning intents.

    Written by scripts/fit_kb_decline.py (seeded; recipe and cross-validated figures in the JSON file). Its bias
    puts the operating point chosen there at the shipped `answer_threshold`, like `CONFIDENCE_WEIGHTS`.
    """

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float

    @classmethod
    def load(cls, path: Path | None = None) -> DeclineModel | None:
        """The shipped model (or the one at `path`); None when the file is missing or not valid (logged)."""
        path = path or DECLINE_MODEL_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            model = cls(tuple(map(str, data["features"])), tuple(map(float, data["weights"])), float(data["bias"]))
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("%s: no decline model, confidence from the fallback weights (%s)", path, error)
            return None
        unknown = [name for name in model.features if name not in ConfidenceSignals.__dataclass_fields__]
        if unknown or len(model.features) != len(model.weights):
            log.warning("%s: decline model does not fit the signals (%s)", path, ", ".join(unknown) or "lengths")
            return None
        return model

    def logit(self, signals: ConfidenceSignals) -> float:
        return self.bias + sum(w * signals.value(n) for n, w in zip(self.features, self.weights, strict=True))


@dataclass(frozen=True)
class RankedSentence:
    """A sentence of a retrieved passage, scored for how well it answers the question."""

    score: float
    similarity: float
    passage_id: int
    position: int
    text: str
    context: str = ""  # what was embedded: the sentence with its section heading


def is_small_talk(text: str) -> bool:
    """Greetings, thanks and "who are you": chat for the plain model, not questions for the knowledge base."""
    return bool(_SMALL_TALK.match(text.strip())) and len(text) <= 60


class KbAnswerer:
    """Answers questions from a `KnowledgeBase`, with the model when allowed and the text when not."""

    def __init__(
        self,
        kb: KnowledgeBase,
        engine: Engine | None,
        prompts: PromptLibrary,
        settings: KbSettings,
        generation: GenerationSettings | None = None,
        judge: AnswerabilityJudge | None = None,
        judge_loader: Callable[[], AnswerabilityJudge | None] | None = None,
    ) -> None:
        self.kb = kb
        self.judge = judge
        self._judge_loader = judge_loader
        self._judge_loading = asyncio.Lock()
        self.engine = engine
        self.prompts = prompts
        self.settings = settings
        self._frequencies: tuple[str, dict[str, int], int] | None = None
        self._sentence_cache: dict[str, np.ndarray] = {}
        base = generation or GenerationSettings()
        # Greedy and short: the small model stays closest to the passages that way.
        self.generation = replace(
            base,
            max_new_tokens=settings.max_new_tokens,
            temperature=0.0,
            top_p=1.0,
            repetition_penalty=max(base.repetition_penalty, 1.05),
        )

    async def load_judge(self) -> None:
        """Load the answerability judge now if a loader was given and it is not loaded yet (once)."""
        async with self._judge_loading:
            if self._judge_loader is not None and self.judge is None:
                loader, self._judge_loader = self._judge_loader, None
                self.judge = await asyncio.to_thread(loader)

    async def answer(self, question: str, use_model: bool = True, conversation_id: str | None = None) -> KbAnswer:
        """Answer `question`; a decline when retrieval is not confident. Never raises on engine failures."""
        await self.load_judge()
        question = await asyncio.to_thread(self.kb.corrected_query, question)
        query_vector = await asyncio.to_thread(self.kb.embed_query, question)
        hits = await asyncio.to_thread(self.kb.search, question, max(5, self.settings.top_k), query_vector)
        if not hits:
            return self.decline(hits, 0.0)
        hits = [hit for hit in map(_clean_hit, hits) if (hit.answer or hit.text).strip()]
        if not hits:
            return self.decline(hits, 0.0)
        faq, faq_similarity = await asyncio.to_thread(self._closest_faq, query_vector, hits[:2])
        if faq is not None and faq_similarity >= self.settings.faq_threshold:
            return await self._faq_answer(faq, tuple(hits), faq_similarity, use_model, conversation_id)
        chosen = hits[: self.settings.top_k]
        candidates = hits[: max(self.settings.top_k, SENTENCE_PASSAGES)]
        ranked = await asyncio.to_thread(self._rank_sentences, question, query_vector, candidates)
        signals = await asyncio.to_thread(self._signals, question, ranked, candidates, query_vector)
        confidence = self._confidence(signals)
        if confidence < self.settings.answer_threshold:
            return self.decline(hits, confidence)
        extract = await asyncio.to_thread(self._extractive_text, ranked, candidates, question)
        best = next((hit for hit in candidates if ranked and hit.passage_id == ranked[0].passage_id), hits[0])
        quote_is_answer = bool(extract) and len(extract) <= self.settings.generate_min_chars
        if use_model and self.engine is not None and self.settings.answer_mode == "grounded" and not quote_is_answer:
            generated = await self._generate(question, chosen, ranked, conversation_id)
            if generated and self._supported(generated, chosen, extract, question):
                return self._answered(generated, "generated", hits, confidence, [best])
        return self._answered(extract or best.text, "extractive", hits, confidence, [best])

    def decline(self, hits: Sequence[KbHit], confidence: float) -> KbAnswer:
        return KbAnswer("declined", self.prompts.render("kb_decline"), "declined", tuple(hits[:3]), confidence)

    def _closest_faq(self, query_vector: np.ndarray, hits: Sequence[KbHit]) -> tuple[KbHit | None, float]:
        """The FAQ hit whose question is most similar to the user's, and that similarity."""
        faqs = [hit for hit in hits if hit.is_faq]
        if not faqs:
            return None, 0.0
        similarities = self.kb.encoder.encode([hit.question for hit in faqs]) @ query_vector
        best = int(np.argmax(similarities))
        return faqs[best], float(similarities[best])

    def _signals(
        self,
        question: str,
        ranked: Sequence[RankedSentence],
        hits: Sequence[KbHit],
        query_vector: np.ndarray | None = None,
    ) -> ConfidenceSignals | None:
        """What the confidence is computed from (None when no sentence was found).

        The best sentence's similarity to the question (the sentence embedded with its section heading), the
        IDF-weighted share of the question's content words found in that sentence's passage, how rare the
        rarest question word missing from that passage is (a specific word the passage lacks: "pink" tents,
        the store "manager"), and, with a judge, its logit for that passage answering the question.
        """
        if not ranked:
            return None
        passage = next((hit for hit in hits if hit.passage_id == ranked[0].passage_id), hits[0])
        terms = _stems(question)
        masked_similarity = ranked[0].similarity
        missing_words = 0.0
        if not terms:
            coverage, missing_rarity = 0.0, 0.0
        else:
            frequencies, passages = self._document_frequencies()
            masked = _without_unknown_words(question, frequencies) if self._wants_masked_similarity() else question
            if masked != question and masked.strip() and ranked[0].context:
                vectors = self._sentence_vectors([ranked[0].context])
                masked_similarity = float(vectors[0] @ self.kb.embed_query(masked))
            # Unseen words weigh most; the rarity of a word is its IDF over the IDF of an unseen word.
            unseen = math.log((passages + 1) / 0.5)
            idf = {term: math.log((passages + 1) / (frequencies.get(term, 0) + 0.5)) for term in terms}
            found = terms & _stems(f"{passage.heading} {passage.text}")
            coverage = sum(idf[term] for term in found) / (sum(idf.values()) or 1.0)
            missing_rarity = max((idf[term] for term in terms - found), default=0.0) / unseen
            missing_words = min(len(terms - found), 4) / 4
        others = [hit for hit in hits if hit.document_id != passage.document_id]
        margin = passage.score - max((hit.score for hit in others), default=0.0)
        judge_logit, judge_margin = None, 0.0
        if self.judge is not None:
            judged = [passage, *others]
            logits = self.judge.logits(question, [passage_text(hit.heading, self._trim(hit, ranked)) for hit in judged])
            judge_logit = logits[0]
            judge_margin = judge_logit - max(logits[1:], default=-10.0)
        action_missing = (
            1.0 if missing_actions(question, f"{passage.heading} {passage.answer or passage.text}") else 0.0
        )
        extra = self._recorded_signals(passage, hits, query_vector) if self._wants_recorded_signals() else {}
        return ConfidenceSignals(
            ranked[0].similarity,
            coverage,
            missing_rarity,
            judge_logit,
            margin=margin,
            judge_margin=judge_margin,
            action_missing=action_missing,
            vector_score=passage.vector_score,
            lexical_score=passage.lexical_score,
            masked_similarity=masked_similarity,
            missing_words=missing_words,
            **extra,
        )

    def _recorded_signals(
        self, passage: KbHit, hits: Sequence[KbHit], query_vector: np.ndarray | None
    ) -> dict[str, float]:
        """The signals only a decline fit records (see `ConfidenceSignals`); they cost a few more lookups."""
        others = [hit for hit in hits if hit.document_id != passage.document_id]
        dense_top = max(hits, key=lambda hit: hit.vector_score)
        lexical_top = max(hits, key=lambda hit: hit.lexical_score)
        agreement = dense_top.document_id == lexical_top.document_id == passage.document_id
        found: dict[str, float] = {
            "dense_margin": passage.vector_score - max((hit.vector_score for hit in others), default=0.0),
            "rank_agreement": 1.0 if agreement and lexical_top.lexical_score > 0 else 0.0,
            "neighbour_similarity": self.kb.nearest_other_document(passage.passage_id, passage.document_id),
        }
        if query_vector is not None:
            mean, spread = self.kb.score_spread(query_vector)
            found["similarity_z"] = (passage.vector_score - mean) / spread if spread > 0 else 0.0
            own = self.kb.owner_question_similarity(query_vector, passage.passage_id)
            found["owner_question_similarity"] = own
            found["owner_question_margin"] = own - max(
                (self.kb.owner_question_similarity(query_vector, hit.passage_id) for hit in others), default=0.0
            )
        return found

    def _wants_recorded_signals(self) -> bool:
        """Whether to compute the fit-only signals: when the shipped decline model reads any of them."""
        model = shipped_decline_model()
        return model is not None and bool(set(model.features) & _RECORDED_ONLY)

    def _wants_masked_similarity(self) -> bool:
        """Whether to embed the masked question (one more encoding): only when the decline model reads it."""
        model = shipped_decline_model()
        return model is not None and "masked_similarity" in model.features

    @staticmethod
    def _confidence(signals: ConfidenceSignals | None) -> float:
        """How sure retrieval is that the passages answer the question, in [0, 1]: a logistic score over the
        signals: the shipped `DeclineModel` when a judge read the passages, else `CONFIDENCE_WEIGHTS`."""
        if signals is None:
            return 0.0
        model = shipped_decline_model() if signals.judge_logit is not None else None
        if model is not None:
            return 1.0 / (1.0 + math.exp(-model.logit(signals)))
        values = [signals.similarity, signals.coverage, signals.missing_rarity]
        if signals.judge_logit is None:
            *weights, bias = CONFIDENCE_WEIGHTS
        else:
            *weights, bias = JUDGED_CONFIDENCE_WEIGHTS
            values.append(signals.judge_logit)
        z = sum(weight * value for weight, value in zip(weights, values, strict=True)) + bias
        return 1.0 / (1.0 + math.exp(-z))

    def _document_frequencies(self) -> tuple[dict[str, int], int]:
        """How many passages hold each word stem, and how many passages there are; recounted only when the
        knowledge base changed (its version counter), never per question."""
        version = str(self.kb.store.get_state(VERSION_KEY, "0"))
        cached = self._frequencies
        if cached is None or cached[0] != version:
            counts: Counter[str] = Counter()
            passages = 0
            for row in self.kb.store.db.query("select heading, text from kb_passages"):
                counts.update(_stems(f"{row['heading'] or ''} {row['text']}"))
                passages += 1
            cached = self._frequencies = (version, dict(counts), passages)
        return cached[1], cached[2]

    # the three ways to answer -----------------------------------------------------------------------

    async def _faq_answer(
        self, faq: KbHit, hits: tuple[KbHit, ...], similarity: float, use_model: bool, conversation_id: str | None
    ) -> KbAnswer:
        if self.settings.rephrase_faq and use_model and self.engine is not None:
            prompt = self.prompts.render("kb_rephrase", question=faq.question, answer=faq.answer)
            rephrased = await self._complete([ChatTurn("user", prompt)], conversation_id)
            if rephrased and _keeps_facts(rephrased, faq.answer):
                return self._answered(rephrased, "faq_rephrased", hits, similarity, [faq])
        return self._answered(faq.answer, "faq", hits, similarity, [faq])

    async def _generate(
        self,
        question: str,
        chosen: Sequence[KbHit],
        ranked: Sequence[RankedSentence],
        conversation_id: str | None,
    ) -> str:
        passages = [{"title": hit.title, "heading": hit.heading, "text": self._trim(hit, ranked)} for hit in chosen]
        system = self.prompts.render("kb_system")
        prompt = self.prompts.render("kb_answer", question=question, passages=passages)
        return await self._complete([ChatTurn("system", system), ChatTurn("user", prompt)], conversation_id)

    async def _complete(self, turns: list[ChatTurn], conversation_id: str | None) -> str:
        assert self.engine is not None
        # No conversation id: a grounded prompt shares nothing with the chat's cached history.
        request = GenerationRequest(tuple(turns), self.generation)
        try:
            result = await self.engine.generate(request)
        except EngineError as exc:
            log.warning(
                "grounded generation failed (%s); answering from the text",
                type(exc).__name__,
                extra={"session": conversation_id or ""},
            )
            return ""
        return _clean_generated(result.text)

    def _answered(self, text: str, mode: str, hits: Sequence[KbHit], confidence: float, cited: list[KbHit]) -> KbAnswer:
        if self.settings.cite_sources:
            text = f"{text}\n{self._citation(cited)}"
        return KbAnswer("answered", text, mode, tuple(hits[:3]), confidence, tuple(cited))

    def _citation(self, cited: Sequence[KbHit]) -> str:
        names: list[str] = []
        for hit in cited:
            name = hit.link or hit.title
            if name not in names:
                names.append(name)
        return f"(Source: {'; '.join(names)})"

    # extractive answers and support checks ----------------------------------------------------------

    def _rank_sentences(self, question: str, query_vector: np.ndarray, hits: Sequence[KbHit]) -> list[RankedSentence]:
        """Every sentence of `hits`, best first: similarity to the question, word overlap, passage score.

        A sentence is embedded and matched together with its section heading ("Buying after renting: If you
        buy the same item ..."): the heading often carries the words the question uses.
        """
        candidates: list[tuple[KbHit, int, str, str]] = []
        for hit in hits:
            section = hit.heading.rsplit(">", 1)[-1].strip()
            for position, sentence in enumerate(split_sentences(hit.answer or hit.text)):
                if sentence.strip() != hit.heading.strip():
                    context = f"{section}: {sentence}" if section else sentence
                    candidates.append((hit, position, sentence, context))
        if not candidates:
            return []
        vectors = self._sentence_vectors([context for _, _, _, context in candidates])
        similarities = vectors @ query_vector
        terms = _stems(question)
        weights = self._term_weights(terms)
        total = sum(weights.values()) or 1.0
        covered = {hit.passage_id: sum(weights[t] for t in terms & _stems(f"{hit.heading} {hit.text}")) for hit in hits}
        ranked = []
        for (hit, position, sentence, context), similarity in zip(candidates, similarities, strict=True):
            overlap = sum(weights[term] for term in terms & _stems(context)) / total
            score = (
                float(similarity)
                + OVERLAP_WEIGHT * overlap
                + PASSAGE_OVERLAP_WEIGHT * covered[hit.passage_id] / total
                + PASSAGE_WEIGHT * hit.score
            )
            ranked.append(RankedSentence(score, float(similarity), hit.passage_id, position, sentence, context))
        ranked.sort(key=lambda item: -item.score)
        return ranked

    def _term_weights(self, terms: set[str]) -> dict[str, float]:
        """How much each question word counts in a sentence's word overlap: its IDF over the passages when
        `IDF_OVERLAP` (a word every passage has, like "open" in opening hours, says little about which sentence
        answers "Are you open on Mondays?"; "mondays" does), else 1."""
        if not IDF_OVERLAP:
            return dict.fromkeys(terms, 1.0)
        frequencies, passages = self._document_frequencies()
        return {term: math.log((passages + 1) / (frequencies.get(term, 0) + 0.5)) for term in terms}

    def _sentence_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of passage sentences, cached: the same sentences come back question after question."""
        missing = [text for text in dict.fromkeys(texts) if text not in self._sentence_cache]
        if missing:
            if len(self._sentence_cache) + len(missing) > SENTENCE_CACHE_SIZE:
                self._sentence_cache.clear()
            for text, vector in zip(missing, self.kb.encoder.encode(missing), strict=True):
                self._sentence_cache[text] = vector
        return np.stack([self._sentence_cache[text] for text in texts])

    def _extractive_text(self, ranked: Sequence[RankedSentence], hits: Sequence[KbHit] = (), question: str = "") -> str:
        """The answer quoted from the text: a curated FAQ answer or a short section whole, else the best
        sentence (with the runner-up from the same passage when it scores nearly as well).

        Facts are often spread over the two or three sentences of a short section, so quoting it whole is
        safer than one sentence; lists (prices per item) are quoted item by item so that the neighbouring
        item's figure is not mistaken for the answer.
        """
        if not ranked:
            return ""
        best = ranked[0]
        passage = next((hit for hit in hits if hit.passage_id == best.passage_id), None)
        if passage is not None:
            body = (passage.answer or passage.text).strip()
            if passage.is_faq:
                return " ".join(body.split())
            if len(body) <= WHOLE_SECTION_CHARS and not _LIST_ITEM.search(body):
                same_passage = [item for item in ranked if item.passage_id == best.passage_id]
                return self._sentences_about(question, same_passage) or " ".join(body.split())
        is_list = passage is not None and bool(_LIST_ITEM.search(passage.text))
        if self.judge is not None and question:
            return self._judged_sentences(
                question, [item for item in ranked if item.passage_id == best.passage_id], is_list
            )
        picked = [best]
        for candidate in () if is_list else ranked[1:3]:
            if candidate.passage_id == best.passage_id and candidate.score >= best.score - 0.15:
                picked.append(candidate)
                break
        picked.sort(key=lambda item: item.position)
        return " ".join(item.text if item.text[-1:] in ".!?" else f"{item.text}." for item in picked)

    def _sentences_about(self, question: str, sentences: Sequence[RankedSentence]) -> str:
        """The sentences of a short section that are about the question, in their order; "" when all of them
        are (the section is quoted whole then).

        A sentence is left out only when it shares no content word with the question and its similarity to the
        question is more than `OFF_TOPIC_GAP` below the closest sentence's: "Do you have soy milk?" is answered
        by "Oat and soy milk are available at no extra cost.", without the espresso prices before it, while both
        sentences of a fee section stay for "Why was I charged a fee when I withdrew money?".
        """
        if len(sentences) < 2 or not question.strip():
            return ""
        terms = _stems(question)
        closest = max(item.similarity for item in sentences)
        picked = [item for item in sentences if terms & _stems(item.text) or item.similarity >= closest - OFF_TOPIC_GAP]
        if len(picked) == len(sentences):
            return ""
        picked.sort(key=lambda item: item.position)
        return " ".join(item.text if item.text[-1:] in ".!?" else f"{item.text}." for item in picked)

    def _judged_sentences(self, question: str, sentences: Sequence[RankedSentence], is_list: bool) -> str:
        """The passage's sentence that answers: its ranking score plus `JUDGE_SENTENCE_WEIGHT` times the judge's
        logit for that sentence alone answering the question, with the runner-up when it is nearly as good."""
        assert self.judge is not None
        sentences = list(sentences[:JUDGED_SENTENCES])
        logits = self.judge.logits(question, [item.text for item in sentences])
        scored = sorted(
            ((item.score + JUDGE_SENTENCE_WEIGHT * logit, item) for item, logit in zip(sentences, logits, strict=True)),
            key=lambda pair: -pair[0],
        )
        best_score, best = scored[0]
        picked = [best]
        for score, candidate in () if is_list else scored[1:3]:
            if score >= best_score - JUDGED_RUNNER_UP_MARGIN:
                picked.append(candidate)
                break
        picked.sort(key=lambda item: item.position)
        return " ".join(item.text if item.text[-1:] in ".!?" else f"{item.text}." for item in picked)

    def _trim(self, hit: KbHit, ranked: Sequence[RankedSentence]) -> str:
        """The passage cut to `prompt_passage_chars`, keeping its most relevant sentences in their order."""
        limit = self.settings.prompt_passage_chars
        text = hit.answer or hit.text
        if len(text) <= limit:
            return text
        kept: list[tuple[int, str]] = []
        used = 0
        for item in ranked:
            if item.passage_id != hit.passage_id or used + len(item.text) > limit:
                continue
            kept.append((item.position, item.text))
            used += len(item.text) + 1
        return " ".join(sentence for _, sentence in sorted(kept)) or text[:limit]

    def _supported(self, generated: str, hits: Sequence[KbHit], extract: str, question: str) -> bool:
        """Whether the model's answer says only what the passages say, and says the key fact.

        Each rule below rejected a wrong answer of the 135M model on eval/kb: a number not in the passages
        (or, when the best sentences hold numbers, not among those), a flipped "not", the question repeated
        back, or a content word the passages do not contain.
        """
        if _UNSURE.search(generated) or len(generated) < 3:
            return False
        if _normalized(generated).startswith(_normalized(question)[:40]):
            return False
        source = " ".join(f"{hit.heading} {hit.text}" for hit in hits)
        generated_numbers = set(_NUMBER.findall(generated))
        if not generated_numbers <= set(_NUMBER.findall(source)):
            return False
        extract_numbers = set(_NUMBER.findall(extract))
        if extract_numbers and not (
            extract_numbers & generated_numbers
            and generated_numbers <= extract_numbers | set(_NUMBER.findall(question))
        ):
            return False
        if bool(_NEGATION.search(extract)) != bool(_NEGATION.search(generated)):
            return False
        words = _stems(generated)
        if not words or words <= _stems(question):
            return False
        # Every content word must come from the passages: a word taken from the question alone is the model
        # asserting what the customer asked about ("we do sell mobile phones"), and any other new word is
        # the model's own addition. Such answers fall back to quoting the passages.
        content = words - _REPLY_WORDS
        return bool(content) and content <= _stems(source)


@cache
def shipped_decline_model() -> DeclineModel | None:
    """The decline model shipped in bot/kb/weights (read once)."""
    return DeclineModel.load()


def _clean_hit(hit: KbHit) -> KbHit:
    """The hit without instruction-like sentences (see `bot.kb.poison`): they are never quoted nor prompted."""
    if instruction_phrase(f"{hit.text}\n{hit.answer}") is None:
        return hit
    return replace(hit, text=without_instructions(hit.text), answer=without_instructions(hit.answer))


def _stems(text: str) -> set[str]:
    stems = set()
    for token in _TOKEN.findall(text.lower()):
        if token in STOPWORDS or len(token) < 2:
            continue
        for suffix in ("ing", "es", "ed", "s"):
            if len(token) > len(suffix) + 2 and token.endswith(suffix):
                token = token[: -len(suffix)]
                break
        stems.add(token)
    return stems


def _without_unknown_words(text: str, frequencies: dict[str, int]) -> str:
    """`text` without the content words whose stem no passage holds (stopwords and known words stay)."""
    kept = []
    for word in text.split():
        stems = _stems(word)
        if stems and not any(stem in frequencies for stem in stems):
            continue
        kept.append(word)
    return " ".join(kept)


def _normalized(text: str) -> str:
    return " ".join(_TOKEN.findall(text.lower()))


def _keeps_facts(rephrased: str, original: str) -> bool:
    """A rephrasing keeps every number of the original and adds none, and stays on its words."""
    if set(_NUMBER.findall(rephrased)) != set(_NUMBER.findall(original)):
        return False
    words = _stems(rephrased)
    return bool(words) and len(words & _stems(original)) / len(words) >= 0.6


def _clean_generated(text: str) -> str:
    text = text.strip()
    for prefix in ("Answer:", "A:", "Assistant:"):
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
    # A small model sometimes runs on into a new question; keep the answer only.
    text = re.split(r"\n\s*(?:Question|Q|User):", text)[0].strip()
    return text
