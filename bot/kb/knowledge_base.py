"""The knowledge base: owner documents stored as passages in SQLite, found again by hybrid retrieval.

Each passage is stored with its vector (a float32 blob) and indexed twice: in an FTS5 table for lexical
BM25 matching and in an in-memory `VectorIndex` loaded once from the blobs. A search merges both candidate
lists and scores each passage with an absolute, comparable number, so one threshold can decide whether the
knowledge base knows the answer at all. Another process (the CLI) may change the passages while the bot
runs; a version counter in the `state` table tells the bot to reload its matrix.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import sqlite_utils
from numpy.typing import NDArray

from bot.embeddings import EMBEDDING_DIM
from bot.kb import KbError
from bot.kb.documents import SUPPORTED_SUFFIXES, ParsedDocument, ParsedPassage, read_document
from bot.kb.poison import FlaggedText, flagged_sentences
from bot.kb.settings import KbSection
from bot.kb.spelling import SpellingCorrector, encoder_words, vocabulary_of
from bot.kb.vectors import VectorIndex, blob_to_vector, vector_to_blob
from bot.store import Store, utc_now

log = logging.getLogger(__name__)

VERSION_KEY = "kb.version"
# The sentence encoder the stored vectors were made with ("bundled:all-MiniLM-L6-v2" when unset).
MODEL_KEY = "kb.embedding_model"
BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"
# BM25 sums grow with the number of matched query terms; s / (s + 8) maps them into [0, 1) so that a
# passage matching two or three rare query terms scores about 0.5-0.7 (measured on eval/kb).
LEXICAL_SATURATION = 8.0
CANDIDATES = 30

STOPWORDS = frozenset(
    """a about above after again all am an and any are as at be been before being below between both but by can
    could did do does doing down during each few for from further had has have having he her here hers him his
    how i if in into is it its itself just me more most my myself no nor not now of off on once only or other
    our ours out over own please same she should so some such than that the their theirs them then there these
    they this those through to too under until up very was we were what when where which while who whom why
    will with would you your yours yourself hi hello hey thanks thank tell know want need get""".split()  # noqa: SIM905
)
_WORD = re.compile(r"\w+", re.UNICODE)


class TextEncoder(Protocol):
    """What the knowledge base needs from a sentence encoder (`bot.embeddings.SentenceEncoder` fits)."""

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> NDArray[np.float32]: ...


@dataclass(frozen=True)
class KbDocument:
    """A stored document as `kb list` shows it."""

    id: int
    source: str
    title: str
    kind: str
    passage_count: int
    updated_at: str


@dataclass(frozen=True)
class IngestResult:
    """What adding one file did: `status` is "added", "updated" or "unchanged"."""

    source: str
    title: str
    status: str
    passages_added: int
    passages_kept: int
    passages_removed: int


@dataclass(frozen=True)
class KbHit:
    """One retrieved passage with its scores; `score` blends vector and lexical similarity in [0, 1]."""

    passage_id: int
    document_id: int
    title: str
    source: str
    heading: str
    text: str
    question: str
    answer: str
    link: str
    score: float
    vector_score: float
    lexical_score: float

    @property
    def is_faq(self) -> bool:
        return bool(self.question)

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "heading": self.heading,
            "source": self.source,
            "link": self.link,
            "score": round(self.score, 4),
            "vector_score": round(self.vector_score, 4),
            "lexical_score": round(self.lexical_score, 4),
            "faq": self.is_faq,
            "passage_id": self.passage_id,
        }


def query_terms(text: str, limit: int = 24) -> list[str]:
    """Content words of `text` (lowercase, no stopwords, no duplicates), for the FTS query."""
    terms: list[str] = []
    for word in _WORD.findall(text.lower()):
        if len(word) > 1 and word not in STOPWORDS and word not in terms and not word.startswith("_"):
            terms.append(word)
    return terms[:limit]


class KnowledgeBase:
    """Add, update, remove and search the owner's documents."""

    def __init__(
        self, store: Store, encoder: TextEncoder | None = None, passage_chars: int = 700, lexical_weight: float = 0.3
    ) -> None:
        self.store = store
        self.passage_chars = passage_chars
        self.lexical_weight = lexical_weight
        self._encoder = encoder
        self._index = VectorIndex()
        # The owner's questions for passages (`ParsedPassage.questions`), keyed by question row id.
        self._questions = VectorIndex()
        self._question_passage: dict[int, int] = {}
        self._passage_questions: dict[int, list[int]] = {}
        self._loaded_version: str | None = None
        self._load_lock = threading.Lock()
        self._spelling: tuple[str, SpellingCorrector] | None = None

    @property
    def encoder(self) -> TextEncoder:
        if self._encoder is None:
            from bot.embeddings import shared_encoder

            self._encoder = shared_encoder()
        return self._encoder

    # documents --------------------------------------------------------------------------------------

    def add_paths(
        self, paths: Iterable[Path], on_file: Callable[[Path, IngestResult | KbError], None] = lambda p, r: None
    ) -> list[IngestResult]:
        """Add every supported file under `paths` (folders recursively); a bad file is reported, not fatal."""
        results = []
        for path in expand_paths(paths):
            try:
                result = self.add_file(path)
            except KbError as exc:
                log.warning("%s", exc)
                on_file(path, exc)
                continue
            results.append(result)
            on_file(path, result)
        return results

    def add_file(self, path: Path) -> IngestResult:
        """Add or update one file; only passages whose content changed are embedded again."""
        return self.add_document(read_document(path, self.passage_chars))

    def add_document(self, document: ParsedDocument) -> IngestResult:
        """Store `document`'s passages with their vectors; only passages whose content changed are embedded."""
        existing = self._document_row(document.source)
        if existing is not None and existing["content_hash"] == document.content_hash:
            return IngestResult(document.source, document.title, "unchanged", 0, existing["passage_count"], 0)
        kept: dict[str, int] = {}
        stale: list[int] = []
        if existing is not None:
            for row in self.store.db.query(
                "select id, content_hash from kb_passages where document_id = ?", [existing["id"]]
            ):
                if row["content_hash"] in kept:
                    stale.append(row["id"])
                else:
                    kept[row["content_hash"]] = row["id"]
        wanted = {passage.content_hash for passage in document.passages}
        stale.extend(passage_id for content_hash, passage_id in kept.items() if content_hash not in wanted)
        fresh = [passage for passage in _unique(document.passages) if passage.content_hash not in kept]
        with self._load_lock:
            self._reembed_if_model_changed()  # new vectors join stored ones of the same model only
        questions = [question for passage in fresh for question in passage.questions]
        encoded = self.encoder.encode([passage.embedding_text for passage in fresh] + questions)
        vectors, question_vectors = encoded[: len(fresh)], encoded[len(fresh) :]
        now = utc_now()
        added_ids: list[int] = []
        added_questions: list[tuple[int, int]] = []  # (question row id, passage id)
        with self.store.transaction() as db:
            if existing is None:
                documents = db.table("kb_documents")
                documents.insert(
                    {
                        "source": document.source,
                        "title": document.title,
                        "kind": document.kind,
                        "content_hash": document.content_hash,
                        "passage_count": 0,
                        "added_at": now,
                        "updated_at": now,
                    }
                )
                document_id = _last_id(documents)
            else:
                document_id = int(existing["id"])
            self._delete_passages(db, stale)
            positions = {passage.content_hash: position for position, passage in enumerate(document.passages)}
            passages = db.table("kb_passages")
            for passage, vector in zip(fresh, vectors, strict=True):
                passages.insert(
                    {
                        "document_id": document_id,
                        "position": positions[passage.content_hash],
                        "heading": passage.heading,
                        "text": passage.text,
                        "question": passage.question,
                        "answer": passage.answer,
                        "content_hash": passage.content_hash,
                        "vector": vector_to_blob(vector),
                        "link": passage.link,
                    }
                )
                passage_id = _last_id(passages)
                added_ids.append(passage_id)
                db.execute(
                    "insert into kb_passages_fts (rowid, heading, text) values (?, ?, ?)",
                    [passage_id, passage.heading, "\n".join([passage.text, *passage.questions])],
                )
                question_rows = db.table("kb_passage_questions")
                for question in passage.questions:
                    question_rows.insert(
                        {
                            "passage_id": passage_id,
                            "question": question,
                            "vector": vector_to_blob(question_vectors[len(added_questions)]),
                        }
                    )
                    added_questions.append((_last_id(question_rows), passage_id))
            for content_hash, passage_id in kept.items():
                if content_hash in wanted:
                    db.execute(
                        "update kb_passages set position = ? where id = ?", [positions[content_hash], passage_id]
                    )
            count = len(_unique(document.passages))
            db.execute(
                "update kb_documents set title = ?, kind = ?, content_hash = ?, passage_count = ?, updated_at = ? "
                "where id = ?",
                [document.title, document.kind, document.content_hash, count, now, document_id],
            )
            version = self._bump_version(db)
        self._apply_change(
            version,
            remove=stale,
            add_ids=added_ids,
            add_vectors=vectors,
            add_questions=added_questions,
            question_vectors=question_vectors,
        )
        kept_count = sum(1 for content_hash in kept if content_hash in wanted)
        return IngestResult(
            document.source,
            document.title,
            "added" if existing is None else "updated",
            len(fresh),
            kept_count,
            len(stale),
        )

    def remove(self, reference: str) -> KbDocument:
        """Remove a document by id, exact source path, or a path that resolves to its source."""
        document = self.find_document(reference)
        if document is None:
            raise KbError(f"no document {reference!r} in the knowledge base (see `socialbot kb list`)")
        with self.store.transaction() as db:
            ids = [row["id"] for row in db.query("select id from kb_passages where document_id = ?", [document.id])]
            self._delete_passages(db, ids)
            db.execute("delete from kb_documents where id = ?", [document.id])
            version = self._bump_version(db)
        self._apply_change(version, remove=ids)
        return document

    def find_document(self, reference: str) -> KbDocument | None:
        candidates = [reference]
        if not reference.isdigit():
            candidates.append(str(Path(reference).expanduser().resolve()))
        for document in self.documents():
            if str(document.id) == reference or document.source in candidates:
                return document
        return None

    def documents(self) -> list[KbDocument]:
        rows = self.store.db.query(
            "select id, source, title, kind, passage_count, updated_at from kb_documents order by id"
        )
        return [KbDocument(**row) for row in rows]

    def flagged_instructions(self, source: str | None = None) -> dict[str, list[FlaggedText]]:
        """Instruction-like sentences per document source (only documents that have any; one source if given).

        They are never quoted to customers (the answerer drops them); owners see them at `kb add` / `kb list`.
        """
        query = "select d.source, p.text, p.answer from kb_passages p join kb_documents d on d.id = p.document_id"
        params: list[Any] = []
        if source is not None:
            query += " where d.source = ?"
            params.append(source)
        found: dict[str, list[FlaggedText]] = {}
        for row in self.store.db.query(query + " order by d.id, p.position", params):
            for text in (row["text"], row["answer"] or ""):
                for flagged in flagged_sentences(text):
                    sentences = found.setdefault(row["source"], [])
                    if flagged not in sentences:
                        sentences.append(flagged)
        return found

    def passage_count(self) -> int:
        return int(next(self.store.db.query("select count(*) as n from kb_passages"))["n"])

    def is_empty(self) -> bool:
        return not list(self.store.db.query("select 1 from kb_passages limit 1"))

    # search -----------------------------------------------------------------------------------------

    def embed_query(self, text: str) -> NDArray[np.float32]:
        return self.encoder.encode([text])[0]

    def spelling(self) -> SpellingCorrector:
        """The corrector toward this knowledge base's own words; rebuilt only when the passages changed."""
        version = str(self.store.get_state(VERSION_KEY, "0"))
        cached = self._spelling
        if cached is None or cached[0] != version:
            texts = [
                " ".join(filter(None, (row["heading"], row["text"], row["question"], row["answer"])))
                for row in self.store.db.query("select heading, text, question, answer from kb_passages")
            ]
            texts.extend(row["question"] for row in self.store.db.query("select question from kb_passage_questions"))
            words = encoder_words()
            cached = self._spelling = (version, SpellingCorrector(vocabulary_of(texts, STOPWORDS), words.__contains__))
        return cached[1]

    def corrected_query(self, text: str) -> str:
        """`text` with misspelt words replaced by the knowledge base's word they stand for ("cappucino")."""
        return self.spelling().correct(text)

    def search(self, text: str, k: int = 5, query_vector: NDArray[np.float32] | None = None) -> list[KbHit]:
        """The `k` best passages for `text`, best first (blocking: call it off the event loop).

        Misspelt words are corrected toward the knowledge base's vocabulary first (`corrected_query`); a given
        `query_vector` is used as is.
        """
        self._ensure_loaded()
        if len(self._index) == 0 or not text.strip():
            return []
        text = self.corrected_query(text)
        vector = self.embed_query(text) if query_vector is None else query_vector
        vector_scores = dict(self._index.search(vector, CANDIDATES))
        lexical_scores = self._lexical(text, CANDIDATES)
        asked = [self._question_passage[question_id] for question_id, _ in self._questions.search(vector, CANDIDATES)]
        missing = [passage_id for passage_id in {*lexical_scores, *asked} if passage_id not in vector_scores]
        vector_scores.update(self._index.scores_for(vector, missing))
        self._closest_question_scores(vector, vector_scores)
        weight = self.lexical_weight
        blended = {
            passage_id: (1 - weight) * max(score, 0.0) + weight * lexical_scores.get(passage_id, 0.0)
            for passage_id, score in vector_scores.items()
        }
        best = sorted(blended, key=lambda passage_id: -blended[passage_id])[:k]
        rows = self._passage_rows(best)
        return [
            KbHit(
                passage_id=passage_id,
                document_id=rows[passage_id]["document_id"],
                title=rows[passage_id]["title"],
                source=rows[passage_id]["source"],
                heading=rows[passage_id]["heading"] or "",
                text=rows[passage_id]["text"],
                question=rows[passage_id]["question"] or "",
                answer=rows[passage_id]["answer"] or "",
                link=rows[passage_id]["link"] or "",
                score=blended[passage_id],
                vector_score=vector_scores[passage_id],
                lexical_score=lexical_scores.get(passage_id, 0.0),
            )
            for passage_id in best
            if passage_id in rows
        ]

    def score_spread(self, vector: NDArray[np.float32]) -> tuple[float, float]:
        """Mean and standard deviation of `vector`'s cosine to every passage: how close the question is to the
        knowledge base as a whole, against which a top score can be read."""
        self._ensure_loaded()
        scores = self._index.all_scores(vector)
        if scores.size == 0:
            return 0.0, 0.0
        return float(scores.mean()), float(scores.std())

    def owner_question_similarity(self, vector: NDArray[np.float32], passage_id: int) -> float:
        """Cosine of `vector` to the closest question the owner wrote for `passage_id` (0.0 when none)."""
        self._ensure_loaded()
        ids = self._passage_questions.get(passage_id, [])
        return max(self._questions.scores_for(vector, ids).values(), default=0.0)

    def nearest_other_document(self, passage_id: int, document_id: int) -> float:
        """Cosine of `passage_id`'s vector to the closest passage of another document: how crowded its
        neighbourhood is (0.0 when it has none)."""
        self._ensure_loaded()
        own = self._index.vector_of(passage_id)
        if own is None:
            return 0.0
        neighbours = [(pid, score) for pid, score in self._index.search(own, 12) if pid != passage_id]
        if not neighbours:
            return 0.0
        marks = ", ".join("?" for _ in neighbours)
        documents = {
            row["id"]: row["document_id"]
            for row in self.store.db.query(
                f"select id, document_id from kb_passages where id in ({marks})", [pid for pid, _ in neighbours]
            )
        }
        return max((score for pid, score in neighbours if documents.get(pid, document_id) != document_id), default=0.0)

    def _closest_question_scores(self, vector: NDArray[np.float32], vector_scores: dict[int, float]) -> None:
        """Raise each candidate passage's vector score to that of its closest owner-written question."""
        ids = [qid for passage_id in vector_scores for qid in self._passage_questions.get(passage_id, ())]
        for question_id, score in self._questions.scores_for(vector, ids).items():
            passage_id = self._question_passage[question_id]
            vector_scores[passage_id] = max(vector_scores[passage_id], score)

    def _lexical(self, text: str, limit: int) -> dict[int, float]:
        terms = query_terms(text)
        if not terms:
            return {}
        query = " OR ".join(f'"{term}"' for term in terms)
        rows = self.store.db.execute(
            "select rowid, bm25(kb_passages_fts, 2.0, 1.0) from kb_passages_fts where kb_passages_fts match ? "
            "order by bm25(kb_passages_fts, 2.0, 1.0) limit ?",
            [query, limit],
        ).fetchall()
        return {int(rowid): (-rank) / (-rank + LEXICAL_SATURATION) for rowid, rank in rows if rank < 0}

    def _passage_rows(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        rows = self.store.db.query(
            "select p.id, p.document_id, p.heading, p.text, p.question, p.answer, p.link, d.title, d.source "
            f"from kb_passages p join kb_documents d on d.id = p.document_id where p.id in ({marks})",
            list(ids),
        )
        return {row["id"]: row for row in rows}

    # the in-memory matrix ---------------------------------------------------------------------------

    @property
    def encoder_name(self) -> str | None:
        """The encoder's model name when it tells one (`SentenceEncoder.name`); None for anonymous encoders."""
        name = getattr(self.encoder, "name", None)
        return name if isinstance(name, str) else None

    def _ensure_loaded(self) -> None:
        version = self.store.get_state(VERSION_KEY, "0")
        if version == self._loaded_version:
            return
        with self._load_lock:
            if version == self._loaded_version:
                return
            self._reembed_if_model_changed()
            version = self.store.get_state(VERSION_KEY, "0")
            first = next(iter(self.store.db.query("select vector from kb_passages limit 1")), None)
            dim = len(first["vector"]) // 4 if first else EMBEDDING_DIM
            index = VectorIndex(dim=dim, capacity=max(1024, self.passage_count()))
            ids: list[int] = []
            vectors: list[NDArray[np.float32]] = []
            for row in self.store.db.query("select id, vector from kb_passages"):
                ids.append(row["id"])
                vectors.append(blob_to_vector(row["vector"], index.dim))
            if ids:
                index.add(ids, np.stack(vectors))
            self._index = index
            self._load_questions(index.dim)
            self._loaded_version = version
            log.info("knowledge base loaded: %d passages", len(ids))

    def _load_questions(self, dim: int) -> None:
        rows = list(self.store.db.query("select id, passage_id, vector from kb_passage_questions"))
        self._questions = VectorIndex(dim=dim, capacity=max(1024, len(rows)))
        self._question_passage = {}
        self._passage_questions = {}
        if rows:
            self._questions.add(
                [row["id"] for row in rows], np.stack([blob_to_vector(row["vector"], dim) for row in rows])
            )
        self._link_questions([(row["id"], row["passage_id"]) for row in rows])

    def _link_questions(self, pairs: Sequence[tuple[int, int]]) -> None:
        for question_id, passage_id in pairs:
            self._question_passage[question_id] = passage_id
            self._passage_questions.setdefault(passage_id, []).append(question_id)

    def _unlink_passages(self, passage_ids: Sequence[int]) -> None:
        for passage_id in passage_ids:
            question_ids = self._passage_questions.pop(passage_id, [])
            self._questions.remove(question_ids)
            for question_id in question_ids:
                self._question_passage.pop(question_id, None)

    def _reembed_if_model_changed(self) -> None:
        """Vectors of one model cannot be searched with another's: when the configured encoder is not the one
        the stored vectors were made with, every passage is embedded again (once; logged)."""
        current = self.encoder_name
        if current is None:
            return
        stored = str(self.store.get_state(MODEL_KEY, BUNDLED_MODEL))
        if stored == current:
            return
        rows = list(self.store.db.query("select id, heading, text, question, answer from kb_passages"))
        if rows:
            log.warning(
                "knowledge base vectors were made by %s; embedding %d passages with %s", stored, len(rows), current
            )
            questions = list(self.store.db.query("select id, question from kb_passage_questions"))
            texts = [_embedding_text(row) for row in rows] + [row["question"] for row in questions]
            vectors = self.encoder.encode(texts)
            with self.store.transaction() as db:
                for row, vector in zip(rows, vectors[: len(rows)], strict=True):
                    db.execute("update kb_passages set vector = ? where id = ?", [vector_to_blob(vector), row["id"]])
                for row, vector in zip(questions, vectors[len(rows) :], strict=True):
                    db.execute(
                        "update kb_passage_questions set vector = ? where id = ?", [vector_to_blob(vector), row["id"]]
                    )
                db.table("state").upsert({"key": MODEL_KEY, "value": current, "updated_at": utc_now()}, pk="key")
                self._bump_version(db)
        else:
            self.store.set_state(MODEL_KEY, current)

    def _apply_change(
        self,
        version: str,
        remove: Sequence[int] = (),
        add_ids: Sequence[int] = (),
        add_vectors: NDArray[np.float32] | None = None,
        add_questions: Sequence[tuple[int, int]] = (),
        question_vectors: NDArray[np.float32] | None = None,
    ) -> None:
        with self._load_lock:
            if self._loaded_version is None:
                return  # not loaded yet: the first search loads everything
            if self._loaded_version != str(int(version) - 1):
                self._loaded_version = None  # someone else changed it too: reload on next search
                return
            self._index.remove(remove)
            self._unlink_passages(remove)
            if add_ids and add_vectors is not None:
                self._index.add(add_ids, add_vectors)
            if add_questions and question_vectors is not None:
                self._questions.add([question_id for question_id, _ in add_questions], question_vectors)
                self._link_questions(add_questions)
            self._loaded_version = version

    def _bump_version(self, db: Any) -> str:
        rows = list(db.query("select value from state where key = ?", [VERSION_KEY]))
        version = str(int(rows[0]["value"]) + 1 if rows else 1)
        db.table("state").upsert({"key": VERSION_KEY, "value": version, "updated_at": utc_now()}, pk="key")
        return version

    def _delete_passages(self, db: Any, ids: Sequence[int]) -> None:
        for passage_id in ids:
            db.execute("delete from kb_passage_questions where passage_id = ?", [passage_id])
            db.execute("delete from kb_passages_fts where rowid = ?", [passage_id])
            db.execute("delete from kb_passages where id = ?", [passage_id])

    def _document_row(self, source: str) -> dict[str, Any] | None:
        rows = list(self.store.db.query("select * from kb_documents where source = ?", [source]))
        return rows[0] if rows else None


def knowledge_base_for(store: Store, section: KbSection) -> KnowledgeBase:
    """The knowledge base as the `[kb]` section configures it (the bot and the `kb` commands share this)."""
    encoder = None
    if section.embedding_model.strip():
        from bot.embeddings import encoder_for

        encoder = encoder_for(section.embedding_model)
    return KnowledgeBase(
        store, encoder=encoder, passage_chars=section.passage_chars, lexical_weight=section.lexical_weight
    )


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files to ingest: each file as given, and supported files under each folder, sorted."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(
                    child for child in path.rglob("*") if child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES
                )
            )
        elif path.exists():
            files.append(path)
        else:
            raise KbError(f"{path}: no such file or folder")
    return files


def _last_id(table: sqlite_utils.db.Table) -> int:
    if table.last_pk is None:
        raise KbError(f"insert into {table.name} returned no row id")
    return int(table.last_pk)


def _embedding_text(row: dict[str, Any]) -> str:
    """What the encoder saw for a stored passage (as `ParsedPassage.embedding_text`)."""
    if row["question"]:
        return f"{row['question']}\n{row['answer']}"
    return f"{row['heading']}\n{row['text']}" if row["heading"] else str(row["text"])


def _unique(passages: Sequence[ParsedPassage]) -> list[ParsedPassage]:
    seen: set[str] = set()
    unique = []
    for passage in passages:
        if passage.content_hash not in seen:
            seen.add(passage.content_hash)
            unique.append(passage)
    return unique
