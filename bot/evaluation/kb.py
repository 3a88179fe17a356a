"""`socialbot eval kb`: retrieval, answer and decline quality on the shipped shop knowledge base.

The evaluation never touches the bot's own knowledge base: it ingests `eval/kb/shop/` into a temporary
database and asks every question of `eval/kb/questions.jsonl` through the same `KbAnswerer` the bot uses,
with the app's engine. Questions carry a `split`: the confidence weights and threshold are fitted on
"calibration" only (scripts/fit_kb_confidence.py), and the figures are reported on "test" unless asked otherwise.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.evaluation import SETS
from bot.kb import KbError
from bot.kb.answerability import AnswerabilityJudge, load_judge
from bot.kb.answering import KbAnswer, KbAnswerer, KbSettings
from bot.kb.knowledge_base import KnowledgeBase
from bot.kb.settings import KbSection
from bot.store import Store

if TYPE_CHECKING:
    from bot.app import BotApp

DEFAULT_QUESTIONS = SETS / "kb" / "questions.jsonl"
OUT_OF_SCOPE = "out_of_scope"


@dataclass(frozen=True)
class EvalQuestion:
    """One line of questions.jsonl."""

    id: int
    question: str
    type: str  # "answerable", "paraphrase" or "out_of_scope"
    split: str
    expected_docs: tuple[str, ...]  # file names of the documents that hold the answer
    must_contain: tuple[str, ...]
    must_not_contain: tuple[str, ...]

    @property
    def in_scope(self) -> bool:
        return self.type != OUT_OF_SCOPE


def load_questions(path: Path) -> list[EvalQuestion]:
    questions = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise KbError(f"{path}: cannot read questions: {exc.strerror or exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(
                EvalQuestion(
                    id=int(row.get("id", number)),
                    question=str(row["question"]),
                    type=str(row["type"]),
                    split=str(row.get("split", "test")),
                    expected_docs=_as_tuple(row.get("expected_doc", ())),
                    must_contain=_as_tuple(row.get("must_contain", ())),
                    must_not_contain=_as_tuple(row.get("must_not_contain", ())),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise KbError(f"{path}:{number}: not a valid question line ({exc})") from None
    return questions


def answer_is_correct(question: EvalQuestion, answer: KbAnswer) -> bool:
    """Answered, with every required fact present and no contradicting fact (case-insensitive)."""
    if answer.outcome != "answered":
        return False
    text = answer.text.lower()
    return all(fact.lower() in text for fact in question.must_contain) and not any(
        fact.lower() in text for fact in question.must_not_contain
    )


async def run_kb_eval(
    app: BotApp,
    questions_path: Path | str | None = None,
    limit: int | None = None,
    use_model: bool = True,
    split: str = "test",
    kb_dir: Path | None = None,
    settings: KbSettings | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> dict[str, Any]:
    """The evaluation figures as a dict (hit_at_1, hit_at_3, answer_accuracy, decline_precision,
    decline_recall, latency_ms_p50, ...). With `use_model` the app must be started (its engine loaded);
    `split` is "test", "calibration" or "all"."""
    kb_settings = settings or KbSettings.from_section(app.config.section(KbSection))
    judge = await asyncio.to_thread(load_judge, app.config.section(KbSection).answerability_judge)
    rows = await _answer_all(app, questions_path, limit, use_model, split, kb_dir, kb_settings, progress, judge)
    figures = _figures(rows, use_model, kb_settings, split, app.engine.model_name if use_model else "none")
    figures["thresholds"]["answerability_judge"] = judge is not None
    return figures


async def _answer_all(
    app: BotApp,
    questions_path: Path | str | None,
    limit: int | None,
    use_model: bool,
    split: str,
    kb_dir: Path | None,
    kb_settings: KbSettings,
    progress: Callable[[int, int], None],
    judge: AnswerabilityJudge | None,
) -> list[tuple[EvalQuestion, KbAnswer, float]]:
    path = Path(questions_path) if questions_path else DEFAULT_QUESTIONS
    questions = [q for q in load_questions(path) if split == "all" or q.split == split]
    if limit:
        questions = questions[:limit]
    with tempfile.TemporaryDirectory(prefix="socialbot-kb-eval-") as folder:
        store = Store.open(Path(folder) / "kb_eval.db")
        try:
            kb = KnowledgeBase(
                store,
                passage_chars=app.config.section(KbSection).passage_chars,
                lexical_weight=app.config.section(KbSection).lexical_weight,
            )
            await asyncio.to_thread(kb.add_paths, [kb_dir or path.parent / "shop"])
            answerer = KbAnswerer(kb, app.engine if use_model else None, app.prompts, kb_settings, judge=judge)
            rows = []
            for index, question in enumerate(questions):
                started = time.perf_counter()
                answer = await answerer.answer(question.question, use_model=use_model)
                latency_ms = (time.perf_counter() - started) * 1000
                rows.append((question, answer, latency_ms))
                progress(index + 1, len(questions))
        finally:
            store.close()
    return rows


def _figures(
    rows: list[tuple[EvalQuestion, KbAnswer, float]], use_model: bool, settings: KbSettings, split: str, model_name: str
) -> dict[str, Any]:
    in_scope = [(q, a) for q, a, _ in rows if q.in_scope]
    out_scope = [(q, a) for q, a, _ in rows if not q.in_scope]
    with_doc = [(q, a) for q, a in in_scope if q.expected_docs]

    def docs(answer: KbAnswer) -> list[str]:
        return [Path(hit.source).name for hit in answer.hits]

    hit1 = sum(1 for q, a in with_doc if set(docs(a)[:1]) & set(q.expected_docs))
    hit3 = sum(1 for q, a in with_doc if set(docs(a)[:3]) & set(q.expected_docs))
    correct = [q for q, a in in_scope if answer_is_correct(q, a)]
    declined = [(q, a) for q, a, _ in rows if a.outcome == "declined"]
    true_declines = sum(1 for q, _ in declined if not q.in_scope)
    latencies = [latency for _, _, latency in rows]
    failures = [
        {
            "id": q.id,
            "question": q.question,
            "type": q.type,
            "outcome": a.outcome,
            "mode": a.mode,
            "answer": a.text,
            "top": docs(a)[:3],
            "confidence": round(a.confidence, 3),
        }
        for q, a, _ in rows
        if (q.in_scope and not answer_is_correct(q, a)) or (not q.in_scope and a.outcome != "declined")
    ]
    modes: dict[str, int] = {}
    for _, answer, _ in rows:
        modes[answer.mode] = modes.get(answer.mode, 0) + 1
    return {
        "questions": len(rows),
        "split": split,
        "in_scope": len(in_scope),
        "out_of_scope": len(out_scope),
        "hit_at_1": _ratio(hit1, len(with_doc)),
        "hit_at_3": _ratio(hit3, len(with_doc)),
        "answer_accuracy": _ratio(len(correct), len(in_scope)),
        "answer_accuracy_paraphrase": _ratio(
            sum(1 for q in correct if q.type == "paraphrase"), sum(1 for q, _ in in_scope if q.type == "paraphrase")
        ),
        "decline_precision": _ratio(true_declines, len(declined)),
        "decline_recall": _ratio(true_declines, len(out_scope)),
        "latency_ms_p50": round(statistics.median(latencies), 1) if latencies else 0.0,
        "latency_ms_p90": round(_percentile(latencies, 0.9), 1) if latencies else 0.0,
        "modes": modes,
        "model": model_name,
        "use_model": use_model,
        "thresholds": {
            "answer_threshold": settings.answer_threshold,
            "faq_threshold": settings.faq_threshold,
            "answer_mode": settings.answer_mode,
            "top_k": settings.top_k,
        },
        "failures": failures,
    }


def format_kb_eval(figures: dict[str, Any]) -> str:
    """The figures as a short table for people."""
    lines = [
        f"knowledge-base evaluation: {figures['questions']} questions (split {figures['split']}: "
        f"{figures['in_scope']} in scope, {figures['out_of_scope']} out of scope), model {figures['model']}",
        f"  retrieval hit@1        {figures['hit_at_1']:.3f}",
        f"  retrieval hit@3        {figures['hit_at_3']:.3f}",
        f"  answer accuracy        {figures['answer_accuracy']:.3f} "
        f"(paraphrases {figures['answer_accuracy_paraphrase']:.3f})",
        f"  decline precision      {figures['decline_precision']:.3f}",
        f"  decline recall         {figures['decline_recall']:.3f}",
        f"  latency p50 / p90      {figures['latency_ms_p50']:.0f} ms / {figures['latency_ms_p90']:.0f} ms",
        f"  answers by mode        {', '.join(f'{k} {v}' for k, v in sorted(figures['modes'].items()))}",
        f"  thresholds             {', '.join(f'{k}={v}' for k, v in figures['thresholds'].items())}",
    ]
    return "\n".join(lines)


def _as_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value else ()
    return tuple(str(item) for item in value)


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
