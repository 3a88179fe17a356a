"""The knowledge base's cross-language stage: a question in one language answered from documents in another.

The knowledge base searches with all-MiniLM-L6-v2, an English encoder: a Spanish or Chinese question to English
documents finds nothing it trusts and is declined. When that happens and the question's language is not the
documents', the question is embedded with the bundled Universal Sentence Encoder multilingual v3 (16 languages in
one aligned space) and matched against every sentence of the documents and every owner-written `Questions:`
line. Only a confident match is answered, by quoting the documents' own sentence (in their language) after a
short fixed lead-in in the question's language (`prompts/<lang>/kb_answer_other_language.md`); the model never
translates. The confidence rule was chosen on CLINC150 / Banking77 tuning intents
(`scripts/tune_kb_cross_language.py`).

The multilingual vectors are stored in SQLite by the hash of their text (`kb_cross_language_vectors`), so a
change to the documents only embeds the sentences that are new.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from bot.engine.base import Engine, GenerationSettings
from bot.i18n import current_language
from bot.kb.answerability import AnswerabilityJudge
from bot.kb.answering import KbAnswer, KbAnswerer, KbSettings
from bot.kb.documents import split_sentences
from bot.kb.knowledge_base import VERSION_KEY, KbHit, KnowledgeBase
from bot.kb.poison import instruction_phrase
from bot.language import detect_language
from bot.prompts import PromptLibrary
from bot.store import Store

log = logging.getLogger(__name__)

# Chosen on the tuning intents of CLINC150 and Banking77 (scripts/tune_kb_cross_language.py, English queries
# scored with the multilingual encoder against the benchmark documents): a match is confident when its best
# sentence or owner question is MIN_SIMILARITY-similar to the question, or LEAD_SIMILARITY-similar while its
# document leads the best other document by MIN_LEAD. The highest mean answer accuracy (0.32 / 0.50) at which both
# sets kept decline recall of unknown intents >= 0.90 (0.96 / 0.90); similarity alone: 0.29 / 0.40.
MIN_SIMILARITY = 0.72
LEAD_SIMILARITY = 0.54
MIN_LEAD = 0.16
# A section this short is quoted whole, as the English path does (its sentences answer together).
WHOLE_SECTION_CHARS = 220
PROMPT_NAME = "kb_answer_other_language"


class MultilingualTextEncoder(Protocol):
    """What the stage needs from the multilingual encoder (`bot.multilingual_encoder.MultilingualEncoder`)."""

    name: str

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


@dataclass(frozen=True)
class CrossLanguageMatch:
    """The best passage for a question across languages: the text to quote and how sure the match is."""

    hit: KbHit
    quote: str
    similarity: float
    lead: float

    @property
    def confident(self) -> bool:
        return self.similarity >= MIN_SIMILARITY or (self.similarity >= LEAD_SIMILARITY and self.lead >= MIN_LEAD)


@dataclass(frozen=True)
class _Unit:
    """One searchable text of a passage: a sentence of it (quotable) or an owner-written question (not)."""

    passage_id: int
    text: str
    quotable: bool


class CrossLanguageIndex:
    """Multilingual vectors of the knowledge base's sentences and owner questions, and the documents' language.

    Rebuilt when the knowledge base changes (its version in `state`); vectors come from SQLite when their text
    was embedded before."""

    def __init__(self, store: Store, encoder: MultilingualTextEncoder | None = None) -> None:
        self.store = store
        self._encoder = encoder
        self._lock = threading.Lock()
        self._version: str | None = None
        self._units: list[_Unit] = []
        self._matrix: NDArray[np.float32] = np.zeros((0, 0), dtype=np.float32)
        self._hits: dict[int, KbHit] = {}
        self._language = "en"

    @property
    def encoder(self) -> MultilingualTextEncoder:
        if self._encoder is None:
            from bot.multilingual_encoder import shared_multilingual_encoder

            self._encoder = shared_multilingual_encoder()
        return self._encoder

    def language(self) -> str:
        """The documents' language: the most common reliably detected language of their passages ("en" if none)."""
        self._ensure_loaded()
        return self._language

    def match(self, question: str) -> CrossLanguageMatch | None:
        """The passage closest to `question` by its best sentence or owner question; None for an empty KB."""
        self._ensure_loaded()
        if not self._units:
            return None
        vector = self.encoder.encode([question])[0]
        similarities = self._matrix @ vector
        best_by_passage: dict[int, float] = {}
        for unit, similarity in zip(self._units, similarities.tolist(), strict=True):
            if similarity > best_by_passage.get(unit.passage_id, -1.0):
                best_by_passage[unit.passage_id] = similarity
        passage_id = max(best_by_passage, key=lambda pid: best_by_passage[pid])
        hit = self._hits[passage_id]
        others = [score for pid, score in best_by_passage.items() if self._hits[pid].document_id != hit.document_id]
        best = best_by_passage[passage_id]
        lead = best - max(others) if others else best
        quote = self._quote(passage_id, similarities)
        return CrossLanguageMatch(hit, quote, best, lead)

    def _quote(self, passage_id: int, similarities: NDArray[np.float32]) -> str:
        sentences = [
            (float(similarities[i]), unit.text)
            for i, unit in enumerate(self._units)
            if unit.passage_id == passage_id and unit.quotable
        ]
        if not sentences:
            hit = self._hits[passage_id]
            return hit.answer or hit.text
        whole = " ".join(text for _, text in sentences)
        if len(whole) <= WHOLE_SECTION_CHARS:
            return whole
        return max(sentences)[1]

    def _ensure_loaded(self) -> None:
        version = self.store.get_state(VERSION_KEY, "0")
        if version == self._version:
            return
        with self._lock:
            if version == self._version:
                return
            self._load()
            self._version = version

    def _load(self) -> None:
        rows = list(
            self.store.db.query(
                "select p.id, p.document_id, p.heading, p.text, p.question, p.answer, p.link, d.title, d.source "
                "from kb_passages p join kb_documents d on d.id = p.document_id order by p.id"
            )
        )
        units: list[_Unit] = []
        self._hits = {}
        for row in rows:
            self._hits[row["id"]] = KbHit(
                row["id"], row["document_id"], row["title"], row["source"], row["heading"] or "", row["text"],
                row["question"] or "", row["answer"] or "", row["link"] or "", 0.0, 0.0, 0.0,
            )  # fmt: skip
            for sentence in split_sentences(row["answer"] or row["text"]):
                # Instruction-like sentences are never quoted (bot.kb.poison), so they are not matched either.
                if instruction_phrase(sentence) is None:
                    units.append(_Unit(row["id"], " ".join(sentence.split()), quotable=True))
            if row["question"]:
                units.append(_Unit(row["id"], row["question"], quotable=False))
        for question in self.store.db.query("select passage_id, question from kb_passage_questions"):
            if question["passage_id"] in self._hits:
                units.append(_Unit(question["passage_id"], question["question"], quotable=False))
        self._units = units
        self._matrix = self._vectors([unit.text for unit in units])
        self._language = self._documents_language(rows)
        log.info("cross-language index: %d texts, documents in %s", len(units), self._language)

    def _vectors(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Vectors of `texts`, from the cache where embedded before; the new ones are embedded and stored."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        model = self.encoder.name
        keys = [hashlib.sha1(f"{model}\n{text}".encode()).hexdigest() for text in texts]
        cached: dict[str, NDArray[np.float32]] = {}
        unique = sorted(set(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            for row in self.store.db.query(
                f"select text_hash, vector from kb_cross_language_vectors where text_hash in ({marks})", chunk
            ):
                cached[row["text_hash"]] = np.frombuffer(row["vector"], dtype=np.float32)
        missing = sorted({key: text for key, text in zip(keys, texts, strict=True) if key not in cached}.items())
        if missing:
            vectors = self.encoder.encode([text for _, text in missing])
            with self.store.transaction() as db:
                for (key, _), vector in zip(missing, vectors, strict=True):
                    stored = np.asarray(vector, dtype=np.float32)
                    db.execute(
                        "insert or replace into kb_cross_language_vectors (text_hash, vector) values (?, ?)",
                        [key, stored.tobytes()],
                    )
                    cached[key] = stored
        return np.stack([cached[key] for key in keys]).astype(np.float32)

    @staticmethod
    def _documents_language(rows: Sequence[dict[str, object]]) -> str:
        """The majority language over documents, each read from its first passages' text."""
        texts: dict[object, str] = {}
        for row in rows:
            sample = texts.get(row["document_id"], "")
            if len(sample) < 400:
                texts[row["document_id"]] = f"{sample} {row['answer'] or row['text']}".strip()
        votes = Counter(guess.code for guess in map(detect_language, texts.values()) if guess.reliable)
        return votes.most_common(1)[0][0] if votes else "en"


class CrossLanguageAnswerer(KbAnswerer):
    """The knowledge-base answerer with the cross-language stage after it: what it declines in a language other
    than the documents' gets a second, multilingual look (see the module docstring)."""

    def __init__(
        self,
        kb: KnowledgeBase,
        engine: Engine | None,
        prompts: PromptLibrary,
        settings: KbSettings,
        generation: GenerationSettings | None = None,
        judge: AnswerabilityJudge | None = None,
        judge_loader: Callable[[], AnswerabilityJudge | None] | None = None,
        index: CrossLanguageIndex | None = None,
    ) -> None:
        super().__init__(kb, engine, prompts, settings, generation, judge, judge_loader)
        self.index = index or CrossLanguageIndex(kb.store)

    async def warm_up(self) -> None:
        """Embed the documents' sentences now (new ones only), so the first cross-language question is not slowed."""
        await asyncio.to_thread(self.index.language)

    async def answer(self, question: str, use_model: bool = True, conversation_id: str | None = None) -> KbAnswer:
        answer = await super().answer(question, use_model, conversation_id)
        if answer.outcome != "declined" or not question.strip():
            return answer
        language = current_language() or detect_language(question).code
        if language == await asyncio.to_thread(self.index.language):
            return answer
        match = await asyncio.to_thread(self.index.match, question)
        if match is None or not match.confident:
            return answer
        kb_language = self.index.language()
        lead_in = self.prompts.render_in(language, PROMPT_NAME, kb_language=kb_language)
        text = f"{lead_in}\n{match.quote}"
        return self._answered(text, "cross_language", [match.hit, *answer.hits], match.similarity, [match.hit])
