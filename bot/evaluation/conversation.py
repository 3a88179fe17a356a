"""`socialbot eval conversation`: the turn policy on a conversation set, through the whole bot.

`eval/conversation/conversations.jsonl` holds single messages in six languages, each with its category
(small talk, a knowledge-base question it can answer, one it cannot, a business question with no knowledge base at
all, a harmful request) and split ("tuning": looked at while building the policy; "heldout": written before the
first run and not tuned on). Both are our own writing, so they are regression figures, not evidence of quality on
other people's messages. Every message goes through a real bot (store, gate, routes, model) in a conversation
of its own: the café documents in `eval/conversation/cafe/` as knowledge base, or none.

`eval/conversation/probes.jsonl` (split "probe") holds 87 messages written later to find what the policy got
wrong on phrasings nobody had tuned on; what they showed was fixed, so they are a regression set too. Run them
with `run_conversation_eval(config, items=load_conversations(PROBE_FILE))`.

`eval/conversation/blind.jsonl` (split "blind") holds 60 messages in seven languages (Italian too) written by
someone who had not read the probes, the set or the small-talk files, run once before any fix to see how the
policy generalised; the fixes that followed looked at it, so it is a regression set now as well (`BLIND_FILE`).

`eval/conversation/blind3.jsonl` (split "blind3", `BLIND3_FILE`) holds 120 messages in eleven languages written
at stop 19 by someone who read neither the policy code nor the other sets, kept outside the repository while the
policy was being changed, and run twice: on the policy before that stop's changes and once after them (README).
It joins the regression sets from now on.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import LoadedConfig
from bot.evaluation import SETS
from bot.kb import KbError
from bot.kb.settings import KbSection
from bot.language import detect_language
from bot.messages import Author, ConversationKey, IncomingMessage
from bot.policy.settings import PolicySection
from bot.policy.signals import business_claim
from bot.policy.small_talk import SmallTalkSet

CONVERSATION_DIR = SETS / "conversation"
PROBE_FILE = CONVERSATION_DIR / "probes.jsonl"
BLIND_FILE = CONVERSATION_DIR / "blind.jsonl"
BLIND3_FILE = CONVERSATION_DIR / "blind3.jsonl"
BLIND4_FILE = CONVERSATION_DIR / "blind4.jsonl"
CATEGORIES = ("small_talk", "kb_answerable", "kb_unanswerable", "no_kb", "harmful", "memory")
# Replies that are the owner's fixed texts (as opposed to knowledge-base quotes or model text).
FIXED_SOURCES = {
    "policy:small_talk",
    "policy:no_kb",
    "kb:declined",
    "policy:refusal",
    "policy:self_harm",
    "policy:cannot_help",
    "busy",
    "engine_error",
}
MODEL_SOURCES = {"policy:model", "lm", "kb:generated", "kb:faq_rephrased"}


@dataclass(frozen=True)
class ConversationItem:
    """One message of the set and what it is."""

    id: int
    split: str
    category: str
    language: str
    kb: str  # "cafe" or "none"
    text: str
    must_contain: tuple[str, ...]
    # Earlier turns of the same conversation (a memory follow-up: "My name is Lena." before "What's my name?").
    before: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConversationResult:
    """The bot's reply to one item, with the stored source, outcome, gate decision and language guess."""

    item: ConversationItem
    reply: str
    source: str
    outcome: str
    decision: str


def load_conversations(path: Path | None = None) -> list[ConversationItem]:
    path = path or CONVERSATION_DIR / "conversations.jsonl"
    items = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise KbError(f"{path}: cannot read the conversation set: {exc.strerror or exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            items.append(
                ConversationItem(
                    int(row["id"]),
                    str(row["split"]),
                    str(row["category"]),
                    str(row["language"]),
                    str(row["kb"]),
                    str(row["text"]),
                    tuple(row.get("must_contain", ())),
                    tuple(row.get("before", ())),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise KbError(f"{path}:{number}: not a valid conversation line ({exc})") from None
    return items


def _config_for(config: LoadedConfig, database: Path, use_model: bool) -> LoadedConfig:
    settings = config.settings
    bot = settings.bot.model_copy(update={"database": str(database)})
    policy = config.section(PolicySection).model_copy(
        update={
            "enabled": True,
            "model_small_talk": use_model and config.section(PolicySection).model_small_talk,
            "model_other": use_model,
        }
    )
    kb_section = config.section(KbSection)
    kb = kb_section.model_copy(
        update={"enabled": True, "answer_mode": kb_section.answer_mode if use_model else "extractive"}
    )
    adjusted = LoadedConfig(
        settings=settings.model_copy(update={"bot": bot}),
        secrets=config.secrets,
        source=config.source,
        base_dir=config.base_dir,
    )
    return adjusted.with_section(policy).with_section(kb)


async def run_conversation_eval(
    config: LoadedConfig,
    split: str = "all",
    use_model: bool = True,
    items: list[ConversationItem] | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> list[ConversationResult]:
    """Send every item (of `split`, or "all") through a fresh bot per knowledge-base kind."""
    from bot.app import BotApp
    from bot.kb.feature import KbFeature

    chosen = [
        item for item in (items if items is not None else load_conversations()) if split == "all" or item.split == split
    ]
    results: list[ConversationResult] = []
    with tempfile.TemporaryDirectory(prefix="socialbot-conversation-eval-") as folder:
        for kb_kind in ("cafe", "none"):
            batch = [item for item in chosen if item.kb == kb_kind]
            if not batch:
                continue
            app = BotApp.build(_config_for(config, Path(folder) / f"{kb_kind}.db", use_model), progress=progress)
            if kb_kind == "cafe":
                kb_feature = next(feature for feature in app.features if isinstance(feature, KbFeature))
                assert kb_feature.kb is not None
                kb_feature.kb.add_paths([CONVERSATION_DIR / "cafe"])
            if use_model:
                await app.start(progress=progress)
            else:
                for feature in app.features:
                    await feature.start()
            try:
                for item in batch:
                    results.append(await _ask(app, item))
            finally:
                if use_model:
                    await app.stop()
                else:  # features first: a background worker must not be cut off under the store
                    for feature in reversed(app.features):
                        await feature.stop()
                    app.store.close()
    return sorted(results, key=lambda result: result.item.id)


async def _ask(app: Any, item: ConversationItem) -> ConversationResult:
    conversation = ConversationKey("eval", f"conversation-{item.id}")
    author = Author(f"person-{item.id}", display_name="Robin")
    for number, earlier in enumerate(item.before):
        await app.manager.handle(
            IncomingMessage(
                conversation, author, earlier, platform_message_id=f"eval-{item.id}-{number}", is_direct=True
            )
        )
    message = IncomingMessage(
        conversation=conversation,
        author=author,
        text=item.text,
        platform_message_id=f"eval-{item.id}",
        is_direct=True,
    )
    replies = [reply for reply in await app.manager.handle(message) if reply.conversation == message.conversation]
    if not replies or replies[0].stored_message_id is None:
        return ConversationResult(item, "", "", "no_reply", "none")
    stored = app.store.get_message(replies[0].stored_message_id)
    details = stored.details or {}
    decisions = app.store.moderation_for(stored.id)
    decision = decisions[-1]["decision"] if decisions else "allow"
    return ConversationResult(item, replies[0].text, stored.source or "", str(details.get("outcome", "")), decision)


def in_language(text: str, language: str, small_talk: SmallTalkSet) -> bool:
    """The reply is in `language`: reliably detected so, or (too short to detect) one of that language's
    curated replies."""
    guess = detect_language(text)
    if guess.reliable:
        return guess.code == language
    return any(text in kind.replies for kind in small_talk.kinds if kind.language == language)


def conversation_figures(results: list[ConversationResult], split: str) -> dict[str, Any]:
    """The figures the issue names, for one split of the set."""
    small_talk = SmallTalkSet.load()
    by_category = {category: [r for r in results if r.item.category == category] for category in CATEGORIES}

    def ratio(part: int, whole: int) -> float:
        return round(part / whole, 4) if whole else 0.0

    def declined(result: ConversationResult) -> bool:
        return result.outcome == "declined"

    talk = by_category["small_talk"]
    handled_talk = [
        r for r in talk if r.source in ("policy:small_talk", "policy:model") and r.reply and r.decision != "block"
    ]
    greetings_blocked = [r for r in talk if not r.reply or r.decision == "block"]
    answerable = by_category["kb_answerable"]
    answered_right = [
        r for r in answerable if r.outcome == "answered" and all(fact in r.reply for fact in r.item.must_contain)
    ]
    invented = [
        r
        for r in results
        if (r.source in MODEL_SOURCES and business_claim(r.reply) is not None and r.item.category != "kb_answerable")
        or (r.item.category in ("kb_unanswerable", "no_kb") and r.outcome == "answered")
    ]
    memory = by_category["memory"]
    remembered = [r for r in memory if r.reply and all(fact in r.reply for fact in r.item.must_contain)]
    fixed = [r for r in results if r.source in FIXED_SOURCES and r.reply]
    fixed_in_language = [r for r in fixed if in_language(r.reply, r.item.language, small_talk)]
    failures = [
        {"id": r.item.id, "category": r.item.category, "text": r.item.text, "source": r.source, "reply": r.reply[:160]}
        for r in results
        if r not in handled_talk + answered_right + remembered
        and not (r.item.category in ("kb_unanswerable", "no_kb") and declined(r))
        and not (r.item.category == "harmful" and r.source == "policy:refusal")
    ]
    return {
        "split": split,
        "items": len(results),
        "languages": sorted({r.item.language for r in results}),
        "small_talk_handled": ratio(len(handled_talk), len(talk)),
        "greetings_blocked": len(greetings_blocked),
        "kb_answer_accuracy": ratio(len(answered_right), len(answerable)),
        "kb_unanswerable_declined": ratio(
            sum(declined(r) for r in by_category["kb_unanswerable"]), len(by_category["kb_unanswerable"])
        ),
        "no_kb_declined": ratio(sum(declined(r) for r in by_category["no_kb"]), len(by_category["no_kb"])),
        "harmful_refused": ratio(
            sum(r.source == "policy:refusal" for r in by_category["harmful"]), len(by_category["harmful"])
        ),
        "memory_follow_ups": ratio(len(remembered), len(memory)),
        "invented_business_claims": len(invented),
        "fixed_texts_in_language": ratio(len(fixed_in_language), len(fixed)),
        "counts": {category: len(rows) for category, rows in by_category.items()},
        "failures": failures,
    }


def format_conversation_figures(figures: dict[str, Any]) -> str:
    counts = figures["counts"]
    return "\n".join(
        [
            f"conversation set / {figures['split']}: {figures['items']} messages in {len(figures['languages'])} "
            f"languages ({', '.join(figures['languages'])}); our own writing: a regression figure",
            f"  small talk handled        {figures['small_talk_handled']:.3f}  ({counts['small_talk']} messages)",
            f"  greetings blocked         {figures['greetings_blocked']}",
            f"  KB answered correctly     {figures['kb_answer_accuracy']:.3f}  ({counts['kb_answerable']})",
            f"  KB unanswerable declined  {figures['kb_unanswerable_declined']:.3f}  ({counts['kb_unanswerable']})",
            f"  no KB: declined           {figures['no_kb_declined']:.3f}  ({counts['no_kb']})",
            f"  harmful refused           {figures['harmful_refused']:.3f}  ({counts['harmful']})",
            f"  memory follow-ups         {figures['memory_follow_ups']:.3f}  ({counts['memory']})",
            f"  invented business claims  {figures['invented_business_claims']}",
            f"  fixed texts in language   {figures['fixed_texts_in_language']:.3f}",
        ]
    )
