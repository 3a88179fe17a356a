"""The quality check that decides the int8 default: the conversation and KB evaluations, float32 and int8.

Runs `bot.evaluation.conversation` (every split) and the KB evaluation (every split) once with float32
weights and once with int8 weights, same config otherwise, and writes both sets of figures side by side
with how many replies differ (greedy decoding, so a difference is the weights' doing).

The shipped evaluations rarely let the model write (fixed texts, extractive KB answers), so two variants
make the check sensitive to the weights: `kb_grounded`, the KB evaluation with `generate_min_chars = 0`
(the model writes every answer it can; checked answers kept, else the extractive fallback), and
`model_replies`, each conversation-set message sent straight to the engine with the persona prompt
(greedy, 48 tokens, the policy's limit). Every generation the engine runs is recorded, so "outputs differ"
counts the model's own greedy outputs, not only the final replies.

Usage: .venv/bin/python scripts/int8_quality.py [--out /tmp/engine/int8_quality.json] [--config FILE]
A measurement script, not part of the product.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from bot.app import BotApp, engine_settings
from bot.benchmarks.int8 import shared_prefix_fraction
from bot.config import LoadedConfig, load_config
from bot.engine.base import ChatTurn, GenerationRequest, GenerationResult, GenerationSettings
from bot.engine.transformers_engine import TransformersEngine
from bot.evaluation.conversation import MODEL_SOURCES, conversation_figures, load_conversations, run_conversation_eval
from bot.evaluation.kb import DEFAULT_QUESTIONS, _answer_all, _figures
from bot.kb.answerability import load_judge
from bot.kb.answering import KbSettings
from bot.prompts import PromptLibrary

CONVERSATION_KEYS = (
    "small_talk_handled",
    "greetings_blocked",
    "kb_answer_accuracy",
    "kb_unanswerable_declined",
    "no_kb_declined",
    "harmful_refused",
    "memory_follow_ups",
    "invented_business_claims",
    "fixed_texts_in_language",
)
KB_KEYS = ("answer_accuracy", "answer_accuracy_paraphrase", "decline_precision", "decline_recall", "hit_at_1")


RECORDED: dict[str, str] = {}
_generate = TransformersEngine.generate


async def _recording_generate(self: TransformersEngine, request: GenerationRequest) -> GenerationResult:
    result = await _generate(self, request)
    RECORDED[json.dumps([(turn.role, turn.content) for turn in request.messages])] = result.text
    return result


TransformersEngine.generate = _recording_generate  # type: ignore[method-assign]


def with_weights(config: LoadedConfig, int8: bool) -> LoadedConfig:
    model = config.settings.model.model_copy(update={"quantize_int8": int8})
    return config.model_copy(update={"settings": config.settings.model_copy(update={"model": model})})


async def conversation_side(config: LoadedConfig) -> dict[str, Any]:
    results = await run_conversation_eval(config, "all", use_model=True)
    return {
        "figures": {
            split: conversation_figures([r for r in results if r.item.split == split], split)
            for split in ("tuning", "heldout")
        },
        "replies": {str(r.item.id): {"reply": r.reply, "source": r.source, "split": r.item.split} for r in results},
    }


async def model_replies(config: LoadedConfig) -> dict[str, Any]:
    engine = TransformersEngine(engine_settings(config))
    await engine.start()
    persona = PromptLibrary().render(
        "persona", bot_name="Robin", community_name="the café", tone="friendly and brief", today="2026-12-01"
    )
    replies = {}
    try:
        for item in load_conversations():
            request = GenerationRequest(
                (ChatTurn("system", persona), ChatTurn("user", item.text)), GenerationSettings(max_new_tokens=48)
            )
            replies[str(item.id)] = {"reply": (await engine.generate(request)).text, "split": item.split}
    finally:
        await engine.stop()
    return {"replies": replies}


async def kb_side(config: LoadedConfig, grounded: bool = False) -> dict[str, Any]:
    if grounded:
        kb_section = config.settings.kb.model_copy(update={"generate_min_chars": 0, "answer_mode": "grounded"})
        config = config.model_copy(update={"settings": config.settings.model_copy(update={"kb": kb_section})})
    app = BotApp.build(config, features=[])
    await app.start()
    try:
        settings = KbSettings.from_section(config.settings.kb)
        judge = await asyncio.to_thread(load_judge, config.settings.kb.answerability_judge)
        rows = await _answer_all(app, DEFAULT_QUESTIONS, None, True, "all", None, settings, lambda d, t: None, judge)
    finally:
        await app.stop()
    figures = {}
    for split in ("calibration", "test"):
        part = [row for row in rows if row[0].split == split]
        figures[split] = _figures(part, True, settings, split, "int8/float32")
        figures[split].pop("failures", None)
    return {
        "figures": figures,
        "replies": {q.id: {"reply": a.text, "mode": a.mode, "split": q.split} for q, a, _ in rows},
    }


async def paired_model_replies(base: LoadedConfig, limit: int, out: Path) -> None:
    """Both weights loaded at once, each message answered by one then the other (same load on both), the
    file rewritten after every message so an interrupted run keeps what it measured."""
    engines = {name: TransformersEngine(engine_settings(with_weights(base, name == "int8"))) for name in WEIGHTS}
    for engine in engines.values():
        await engine.start()
    persona = PromptLibrary().render(
        "persona", bot_name="Robin", community_name="the café", tone="friendly and brief", today="2026-12-01"
    )
    items = load_conversations()
    chosen = [i for i in items if i.split == "tuning"][: limit // 2] + [i for i in items if i.split == "heldout"][
        : limit - limit // 2
    ]
    report: dict[str, Any] = {name: {"model_replies": {"replies": {}}} for name in WEIGHTS}
    try:
        for item in chosen:
            for name, engine in engines.items():
                request = GenerationRequest(
                    (ChatTurn("system", persona), ChatTurn("user", item.text)), GenerationSettings(max_new_tokens=48)
                )
                text = (await engine.generate(request)).text
                report[name]["model_replies"]["replies"][str(item.id)] = {"reply": text, "split": item.split}
            out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    finally:
        for engine in engines.values():
            await engine.stop()


WEIGHTS = ("float32", "int8")


def differing(a: dict[str, dict[str, str]], b: dict[str, dict[str, str]], split: str) -> tuple[int, int]:
    keys = [key for key in a if a[key]["split"] == split]
    return sum(1 for key in keys if a[key]["reply"] != b.get(key, {}).get("reply")), len(keys)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/engine/int8_quality.json"))
    parser.add_argument("--config", default=None)
    parser.add_argument(
        "--only", choices=["conversation", "kb", "kb_grounded", "model_replies"], action="append", default=None
    )
    parser.add_argument(
        "--weights", choices=["float32", "int8"], action="append", default=None, help="Only these sides."
    )
    parser.add_argument(
        "--paired-replies", type=int, default=0, metavar="N", help="Only greedy replies to N messages, both weights."
    )
    parser.add_argument("--merge", type=Path, nargs="*", default=None, help="Only print the table of these files.")
    args = parser.parse_args()
    report: dict[str, Any] = {}
    if args.merge is not None:
        for path in args.merge:
            report.update(json.loads(path.read_text(encoding="utf-8")))
        print_table(report)
        return 0
    base = load_config(args.config)
    if args.paired_replies:
        asyncio.run(paired_model_replies(base, args.paired_replies, args.out))
        print_table(json.loads(args.out.read_text(encoding="utf-8")))
        return 0
    parts = args.only or ["conversation", "kb", "kb_grounded", "model_replies"]
    for name in args.weights or ["float32", "int8"]:
        config = with_weights(base, name == "int8")
        report[name] = {}
        for part in parts:
            RECORDED.clear()
            started = time.perf_counter()
            if part == "conversation":
                report[name][part] = asyncio.run(conversation_side(config))
            elif part == "model_replies":
                report[name][part] = asyncio.run(model_replies(config))
            else:
                report[name][part] = asyncio.run(kb_side(config, grounded=part == "kb_grounded"))
            report[name][part]["generations"] = dict(RECORDED)
            print(f"{name} {part}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    if len(report) == 2:
        print_table(report)
    return 0


def print_table(report: dict[str, Any]) -> None:
    float32, int8 = report["float32"], report["int8"]
    if "conversation" in float32:
        for split in ("tuning", "heldout"):
            changed, total = differing(float32["conversation"]["replies"], int8["conversation"]["replies"], split)
            model_made = sum(
                1
                for reply in float32["conversation"]["replies"].values()
                if reply["split"] == split and reply["source"] in MODEL_SOURCES
            )
            print(f"conversation/{split}: {changed}/{total} replies differ ({model_made} model-written in float32)")
            for key in CONVERSATION_KEYS:
                a = float32["conversation"]["figures"][split].get(key)
                b = int8["conversation"]["figures"][split].get(key)
                print(f"  {key:<28} float32 {a!s:>8}  int8 {b!s:>8}")
    for part in ("kb", "kb_grounded"):
        if part not in float32:
            continue
        for split in ("calibration", "test"):
            changed, total = differing(float32[part]["replies"], int8[part]["replies"], split)
            modes = float32[part]["figures"][split]["modes"], int8[part]["figures"][split]["modes"]
            print(f"{part}/{split}: {changed}/{total} answers differ; modes float32 {modes[0]} int8 {modes[1]}")
            for key in KB_KEYS:
                a = float32[part]["figures"][split].get(key)
                b = int8[part]["figures"][split].get(key)
                print(f"  {key:<28} float32 {a!s:>8}  int8 {b!s:>8}")
    if "model_replies" in float32:
        for split in ("tuning", "heldout"):
            changed, total = differing(float32["model_replies"]["replies"], int8["model_replies"]["replies"], split)
            replies = float32["model_replies"]["replies"], int8["model_replies"]["replies"]
            shared = [key for key in replies[0] if replies[0][key]["split"] == split and key in replies[1]]
            prefix = [shared_prefix_fraction(replies[0][key]["reply"], replies[1][key]["reply"]) for key in shared]
            mean_prefix = sum(prefix) / len(prefix) if prefix else 0.0
            print(
                f"model_replies/{split}: {changed}/{total} greedy replies differ; "
                f"mean shared prefix {mean_prefix:.2f} of the float32 reply"
            )
    for part in float32:
        a, b = float32[part].get("generations", {}), int8[part].get("generations", {})
        shared = [key for key in a if key in b]
        print(
            f"{part}: {len(a)} model generations (float32), {len(b)} (int8); "
            f"{sum(a[key] != b[key] for key in shared)}/{len(shared)} of the same prompts differ"
        )


if __name__ == "__main__":
    sys.exit(main())
