"""`[kb]`: how the knowledge base answers and hands off to a person."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from bot.config import Section


class KbSection(Section):
    """Knowledge-base answers and human handoff (issue 7); thresholds calibrated on eval/kb."""

    enabled: bool = Field(True, description="Answer from the knowledge base when it holds documents.")
    top_k: int = Field(2, ge=1, le=5, description="Passages put in the grounded prompt (the model is small).")
    answer_threshold: float = Field(
        0.46, ge=0.0, le=1.0, description="Below this retrieval confidence the bot says it doesn't know."
    )
    faq_threshold: float = Field(
        0.85, ge=0.0, le=1.0, description="FAQ question similarity above which the curated answer is used."
    )
    lexical_weight: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="Share of BM25 in the hybrid score (chosen on the tuning intents of eval/kb_benchmarks).",
    )
    answerability_judge: bool = Field(
        True,
        description="Let the bundled cross-encoder read the question with the best passage and say whether it "
        "answers it (part of the confidence; about 10 ms per question).",
    )
    embedding_model: str = Field(
        "",
        description="Sentence-transformers model id or folder for KB retrieval (a multilingual one answers "
        "across languages); empty: the bundled all-MiniLM-L6-v2.",
    )
    cross_language: bool = Field(
        True,
        description="Answer a question in another language than the documents, when the English search declines "
        "it, from the bundled multilingual encoder's closest sentence (quoted, after a localized lead-in).",
    )
    answer_mode: Literal["grounded", "extractive"] = Field(
        "grounded",
        description="'grounded': the model answers from passages (checked, extractive fallback); "
        "'extractive': the best passage sentences verbatim.",
    )
    rephrase_faq: bool = Field(False, description="Let the model rephrase curated FAQ answers (facts kept).")
    cite_sources: bool = Field(True, description="End answers with the title (or link) of their source.")
    passage_chars: int = Field(700, ge=200, le=4000, description="Maximum characters of a stored passage.")
    prompt_passage_chars: int = Field(400, ge=100, le=4000, description="Passage text kept in the prompt.")
    max_new_tokens: int = Field(64, ge=8, le=512, description="Length limit of a grounded answer.")
    generate_min_chars: int = Field(
        300,
        ge=0,
        description="Ask the model for a grounded answer only when the quote would be longer than this: a "
        "shorter quote is already the answer, and the model's rewording of it would be checked and thrown away.",
    )
    pass_small_talk: bool = Field(True, description="Greetings and thanks go to the plain model, not the KB.")
    staff_platform: str = Field("", description="Platform of the staff chat that receives tickets.")
    staff_chat_id: str = Field("", description="Chat/channel id of the staff chat on staff_platform.")
    staff_thread_id: str = Field("", description="Optional thread/topic inside the staff chat.")
