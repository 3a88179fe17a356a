"""Extractive answers and the answer/decline confidence, with the fast hashing encoder (no model)."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.evaluation.kb import DEFAULT_QUESTIONS, load_questions
from bot.kb.answerability import AnswerabilityJudge
from bot.kb.answering import (
    CONFIDENCE_WEIGHTS,
    WHOLE_SECTION_CHARS,
    ConfidenceSignals,
    DeclineModel,
    KbAnswerer,
    KbSettings,
    RankedSentence,
    _without_unknown_words,
    shipped_decline_model,
)
from bot.kb.knowledge_base import KbHit, KnowledgeBase
from bot.prompts import PromptLibrary
from bot.store import Store
from tests.bot.kb.conftest import HashingEncoder

RENTALS = """# Gear rental

## Rental prices

- 2-person tent: 12 euros per day.
- Sea kayak with paddle: 45 euros per day.

## Buying after renting

If you buy the same item within 30 days, we deduct up to 3 days of rental from the price.

## Deposit

Every rental needs a refundable deposit of 100 euros and a photo ID.
"""


@pytest.fixture
def answerer(tmp_path: Path, hashing_encoder: HashingEncoder) -> Iterator[KbAnswerer]:
    store = Store.open(tmp_path / "kb.db")
    kb = KnowledgeBase(store, hashing_encoder)
    document = tmp_path / "rentals.md"
    document.write_text(RENTALS, encoding="utf-8")
    kb.add_paths([document])
    yield KbAnswerer(kb, None, PromptLibrary(), KbSettings(answer_threshold=0.3))
    store.close()


def hit(passage_id: int, text: str, heading: str = "Section", question: str = "", answer: str = "") -> KbHit:
    return KbHit(passage_id, 1, "Doc", "doc.md", heading, text, question, answer, "", 0.5, 0.5, 0.0)


def sentence(passage_id: int, position: int, text: str, score: float) -> RankedSentence:
    return RankedSentence(score, score, passage_id, position, text)


def test_a_curated_faq_answer_is_quoted_whole(answerer: KbAnswerer) -> None:
    faq = hit(
        1,
        "Do you sell gas?\nYes, in stores only. They cannot be sent by post.",
        "Do you sell gas?",
        "Do you sell gas?",
        "Yes, in stores only. They cannot be sent by post.",
    )
    text = answerer._extractive_text([sentence(1, 0, "Yes, in stores only.", 0.9)], [faq])
    assert text == "Yes, in stores only. They cannot be sent by post."


def test_a_short_section_is_quoted_whole_and_a_long_one_by_its_best_sentence(answerer: KbAnswerer) -> None:
    short = hit(1, "Items in stock are ready in 2 hours. Others take 2 working days.")
    ranked = [
        sentence(1, 1, "Others take 2 working days.", 0.9),
        sentence(1, 0, "Items in stock are ready in 2 hours.", 0.5),
    ]
    assert answerer._extractive_text(ranked, [short]) == short.text
    long_text = " ".join(f"Filler sentence number {n} about something else." for n in range(8))
    assert len(long_text) > WHOLE_SECTION_CHARS
    long = hit(2, f"{long_text} The key fact is here.")
    ranked = [
        sentence(2, 8, "The key fact is here.", 0.9),
        sentence(2, 0, "Filler sentence number 0 about something else.", 0.2),
    ]
    assert answerer._extractive_text(ranked, [long]) == "The key fact is here."


def test_a_list_is_quoted_item_by_item(answerer: KbAnswerer) -> None:
    prices = hit(1, "- Standard: 4.95 euros.\n- Express: 9.95 euros.")
    ranked = [sentence(1, 0, "Standard: 4.95 euros.", 0.9), sentence(1, 1, "Express: 9.95 euros.", 0.88)]
    assert answerer._extractive_text(ranked, [prices]) == "Standard: 4.95 euros."


def test_a_sentence_is_ranked_together_with_its_section_heading(answerer: KbAnswerer) -> None:
    question = "What are the late return charges?"
    late = hit(1, "Each extra day costs one more day of rental.", heading="Gear rental > Late return charges")
    other = hit(2, "A tent costs 12 euros per day.", heading="Gear rental > Prices")
    vector = answerer.kb.embed_query(question)
    ranked = answerer._rank_sentences(question, vector, [other, late])
    assert ranked[0].passage_id == 1 and ranked[0].text == "Each extra day costs one more day of rental."


async def test_the_section_heading_leads_to_the_sentence_that_answers(answerer: KbAnswerer) -> None:
    answer = await answerer.answer("Buying after renting: what do I get?", use_model=False)
    assert answer.outcome == "answered"
    assert "3 days" in answer.text and "12 euros" not in answer.text
    assert 0.0 <= answer.confidence <= 1.0


async def test_a_question_the_documents_do_not_cover_is_declined(answerer: KbAnswerer) -> None:
    answer = await answerer.answer("Who wrote the opera Carmen?", use_model=False)
    assert answer.outcome == "declined"
    assert 0.0 <= answer.confidence < answerer.settings.answer_threshold


def test_the_calibration_split_has_enough_questions_of_each_kind() -> None:
    questions = load_questions(DEFAULT_QUESTIONS)
    assert len({q.id for q in questions}) == len(questions)
    calibration = [q for q in questions if q.split == "calibration"]
    assert sum(1 for q in calibration if not q.in_scope) >= 40
    assert sum(1 for q in calibration if q.in_scope) >= 75
    # Added questions only extend the calibration split; the test split is left as it was.
    rows = [json.loads(line) for line in DEFAULT_QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert all(row["split"] == "calibration" for row in rows if row.get("added"))
    assert sum(1 for q in questions if q.split == "test") == 126


async def test_a_specific_word_the_passage_lacks_lowers_the_confidence(answerer: KbAnswerer) -> None:
    plain = await answerer.answer("What is the deposit for a rental?", use_model=False)
    specific = await answerer.answer("What is the deposit for a pink rental?", use_model=False)
    assert specific.confidence < plain.confidence


def test_names_dates_and_amounts_no_passage_holds_are_left_out_of_the_masked_question(answerer: KbAnswerer) -> None:
    frequencies, _ = answerer._document_frequencies()
    masked = _without_unknown_words("What deposit for a Zorbington kayak on 17/08, about 600 EUR?", frequencies)
    assert masked == "What deposit for a kayak on about"
    assert _without_unknown_words("What is the deposit?", frequencies) == "What is the deposit?"


async def test_a_name_the_passages_lack_does_not_dilute_the_masked_similarity(
    answerer: KbAnswerer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(KbAnswerer, "_wants_masked_similarity", lambda self: True)
    question = "What deposit does a rental at Zorbington Quay need?"
    vector = answerer.kb.embed_query(question)
    hits = answerer.kb.search(question, 3, vector)
    ranked = answerer._rank_sentences(question, vector, hits)
    signals = answerer._signals(question, ranked, hits)
    assert signals is not None and signals.masked_similarity > signals.similarity
    plain = "What deposit does a rental need?"
    plain_vector = answerer.kb.embed_query(plain)
    plain_hits = answerer.kb.search(plain, 3, plain_vector)
    plain_signals = answerer._signals(plain, answerer._rank_sentences(plain, plain_vector, plain_hits), plain_hits)
    assert plain_signals is not None and plain_signals.masked_similarity == plain_signals.similarity


def test_word_frequencies_are_counted_again_only_when_the_knowledge_base_changes(
    answerer: KbAnswerer, tmp_path: Path
) -> None:
    frequencies, passages = answerer._document_frequencies()
    assert frequencies["deposit"] == 1 and passages == answerer.kb.passage_count()
    assert answerer._document_frequencies()[0] is frequencies
    extra = tmp_path / "deposits.md"
    extra.write_text("# Deposits\n\nThe deposit for a kayak is 300 euros.\n", encoding="utf-8")
    answerer.kb.add_paths([extra])
    assert answerer._document_frequencies()[0]["deposit"] == 2


def test_with_the_judge_the_shipped_decline_model_weighs_verdict_margin_and_asked_action() -> None:
    assert shipped_decline_model() is not None, "bot/kb/weights/kb_decline.json (scripts/fit_kb_decline.py)"
    retrieval = {"similarity": 0.6, "coverage": 0.8, "missing_rarity": 0.3, "vector_score": 0.6}
    retrieval["masked_similarity"] = retrieval["similarity"]
    base = ConfidenceSignals(**retrieval, judge_logit=0.0, margin=0.15, judge_margin=1.0)
    confidence = KbAnswerer._confidence
    assert confidence(replace(base, judge_logit=-4.0)) < confidence(base) < confidence(replace(base, judge_logit=4.0))
    # Halfway between two documents, or asking for an action the passage never speaks of: less sure.
    assert confidence(replace(base, margin=0.0)) < confidence(base)
    assert confidence(replace(base, action_missing=1.0)) < confidence(base)
    clear = replace(base, similarity=0.75, judge_logit=3.0, margin=0.3, vector_score=0.75, masked_similarity=0.75)
    near_miss = replace(
        base, similarity=0.5, judge_logit=-2.0, margin=0.0, action_missing=1.0, vector_score=0.5, masked_similarity=0.5
    )
    assert confidence(near_miss) < KbSettings().answer_threshold < confidence(clear)
    assert confidence(None) == 0.0


def test_a_decline_model_file_that_does_not_fit_the_signals_is_not_used(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    assert DeclineModel.load(broken) is None
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"features": ["similarity", "mood"], "weights": [1.0, 2.0], "bias": 0.0}))
    assert DeclineModel.load(unknown) is None
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"features": ["similarity", "margin"], "weights": [2.0, 4.0], "bias": -1.0}))
    model = DeclineModel.load(good)
    assert model is not None
    assert model.logit(ConfidenceSignals(0.5, 0.0, 0.0, margin=0.25)) == pytest.approx(1.0)


def test_without_a_judge_the_confidence_comes_from_retrieval_alone() -> None:
    signals = ConfidenceSignals(similarity=0.6, coverage=0.8, missing_rarity=0.3)
    *weights, bias = CONFIDENCE_WEIGHTS
    z = weights[0] * 0.6 + weights[1] * 0.8 + weights[2] * 0.3 + bias
    assert KbAnswerer._confidence(signals) == pytest.approx(1 / (1 + math.exp(-z)))


async def test_the_judge_is_loaded_once_on_the_first_question(tmp_path: Path, hashing_encoder: HashingEncoder) -> None:
    loads: list[int] = []

    def loader() -> AnswerabilityJudge | None:
        loads.append(1)
        return None

    store = Store.open(tmp_path / "kb.db")
    kb = KnowledgeBase(store, hashing_encoder)
    document = tmp_path / "rentals.md"
    document.write_text(RENTALS, encoding="utf-8")
    kb.add_paths([document])
    answerer = KbAnswerer(kb, None, PromptLibrary(), KbSettings(answer_threshold=0.3), judge_loader=loader)
    try:
        await asyncio.gather(*(answerer.answer("What is the deposit?", use_model=False) for _ in range(3)))
        await answerer.answer("What is the deposit?", use_model=False)
    finally:
        store.close()
    assert loads == [1]


def test_a_model_answer_is_kept_only_when_every_word_of_it_comes_from_the_passages(answerer: KbAnswerer) -> None:
    passages = [hit(1, "Mobile app: Do you have a mobile app? Not yet. You can order on our website.", "Mobile app")]
    extract = "Not yet. You can order on our website."
    question = "Do you sell mobile phones?"
    invented = "We do not sell bicycles, but we do sell mobile phones."
    assert not answerer._supported(invented, passages, extract, question)
    assert not answerer._supported("Not yet, but our app is coming this spring.", passages, extract, question)
    assert answerer._supported("Not yet: you can order on the website.", passages, extract, "Is there a mobile app?")
    assert answerer._supported("Yes, order on our website.", passages, "You can order on our website.", "Online?")
    assert not answerer._supported("Yes, I can do that.", passages, extract, "Can I order online?")  # says nothing


def test_a_sentence_of_a_short_section_about_something_else_is_left_out_of_the_quote(answerer: KbAnswerer) -> None:
    short = hit(1, "An espresso costs 2.20 euros. Oat and soy milk cost nothing extra.")
    ranked = [
        sentence(1, 1, "Oat and soy milk cost nothing extra.", 0.6),
        sentence(1, 0, "An espresso costs 2.20 euros.", 0.2),
    ]
    assert answerer._extractive_text(ranked, [short], "Do you have soy milk?") == "Oat and soy milk cost nothing extra."
    close = [
        sentence(1, 1, "Oat and soy milk cost nothing extra.", 0.6),
        sentence(1, 0, "An espresso costs 2.20 euros.", 0.5),
    ]
    assert answerer._extractive_text(close, [short], "Do you have soy milk?") == short.text
    naming = [
        sentence(1, 1, "Oat and soy milk cost nothing extra.", 0.6),
        sentence(1, 0, "An espresso costs 2.20 euros.", 0.1),
    ]
    assert answerer._extractive_text(naming, [short], "soy milk in my espresso?") == short.text


async def test_the_fit_only_signals_are_recorded_when_asked_and_left_at_zero_otherwise(
    answerer: KbAnswerer, monkeypatch: pytest.MonkeyPatch
) -> None:
    question = "How much is the deposit for a rental?"
    vector = answerer.kb.embed_query(question)
    hits = answerer.kb.search(question, 3, vector)
    ranked = answerer._rank_sentences(question, vector, hits)
    plain = answerer._signals(question, ranked, hits, vector)
    assert plain is not None and plain.similarity_z == 0.0 and plain.neighbour_similarity == 0.0
    monkeypatch.setattr(KbAnswerer, "_wants_recorded_signals", lambda self: True)
    recorded = answerer._signals(question, ranked, hits, vector)
    assert recorded is not None
    assert recorded.similarity_z > 1.0  # the deposit section stands out from the other sections
    assert recorded.rank_agreement == 1.0  # dense and BM25 both put the deposit section first
    assert recorded.dense_margin == recorded.vector_score  # one document: it leads nothing but zero, like `margin`
    assert recorded.neighbour_similarity == 0.0
    assert recorded.owner_question_similarity == 0.0  # the owner wrote no questions here


async def test_the_owner_question_margin_is_positive_when_the_question_is_one_the_owner_wrote_for_the_top_document(
    tmp_path: Path, hashing_encoder: HashingEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.open(tmp_path / "kb.db")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "fees.md").write_text(
        "# Withdrawal fees\n\nQuestions: How much does a cash withdrawal cost?\n\n"
        "Cash withdrawals are free up to 200 pounds a month.\n",
        encoding="utf-8",
    )
    (folder / "pending.md").write_text(
        "# Pending withdrawals\n\nQuestions: Why is my cash withdrawal still pending?\n\n"
        "A withdrawal shows as pending until the cash machine's bank confirms it.\n",
        encoding="utf-8",
    )
    kb = KnowledgeBase(store, hashing_encoder)
    kb.add_paths([folder])
    answerer = KbAnswerer(kb, None, PromptLibrary(), KbSettings())
    monkeypatch.setattr(KbAnswerer, "_wants_recorded_signals", lambda self: True)
    try:
        question = "How much does a cash withdrawal cost?"
        vector = kb.embed_query(question)
        hits = kb.search(question, 4, vector)
        signals = answerer._signals(question, answerer._rank_sentences(question, vector, hits), hits, vector)
        assert signals is not None
        assert signals.owner_question_similarity == pytest.approx(1.0, abs=1e-4)  # asked word for word
        assert 0.0 < signals.owner_question_margin < signals.owner_question_similarity  # the neighbour is close
        assert signals.value("owner_question_margin") == signals.owner_question_margin
    finally:
        store.close()
