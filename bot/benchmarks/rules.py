"""Timing the rule index: per-message matching cost with 10, 100 and 1,000 mixed rules.

Used by `socialbot rules bench` and scripts/bench_rules.py. Rules are synthetic but shaped like real ones
(keyword phrases, anchored regexes with groups, semantic examples); each message goes through the same
path as a chat turn: embed once if a semantic rule applies, then match.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bot.rules.matcher import Encoder
from bot.rules.model import Rule
from bot.rules.replier import AutoReplier
from bot.rules.repository import RuleRepository
from bot.store import Store

TOPICS = [
    "opening hours",
    "delivery",
    "refund",
    "password",
    "invoice",
    "shipping",
    "discount",
    "membership",
    "parking",
    "event",
    "ticket",
    "booking",
    "menu",
    "allergy",
    "warranty",
    "return",
    "account",
    "login",
    "newsletter",
    "gift card",
    "support",
    "price",
    "location",
    "schedule",
    "volunteer",
]
WORDS = [
    "the",
    "a",
    "when",
    "is",
    "my",
    "can",
    "how",
    "do",
    "I",
    "you",
    "what",
    "where",
    "please",
    "help",
    "today",
    "order",
    "need",
    "know",
    "about",
    "your",
    "tomorrow",
    "thanks",
    "hi",
    "there",
    "why",
]


@dataclass(frozen=True)
class BenchResult:
    """Matching cost for one rule count: median and 99th percentile per message, and the build time."""

    rules: int
    messages: int
    median_ms: float
    p99_ms: float
    build_s: float
    semantic: bool
    match_median_ms: float = 0.0  # the index lookup alone, without embedding the message
    match_p99_ms: float = 0.0


def synthetic_rules(count: int, semantic: bool, seed: int = 7) -> list[Rule]:
    """`count` mixed rules: about 50% keyword, 30% regex, 20% similar (keyword instead when not semantic)."""
    rng = random.Random(seed)
    rules = []
    for number in range(count):
        topic = f"{rng.choice(TOPICS)} {number}" if number >= len(TOPICS) else TOPICS[number]
        slot = number % 10
        if slot < 5 or (slot >= 8 and not semantic):
            rule = Rule(
                "keyword",
                (topic, f"{topic.split()[0]}{number}"),
                f"About {topic}: see our FAQ.",
                priority=rng.randint(0, 5),
            )
        elif slot < 8:
            rule = Rule(
                "regex",
                (rf"^{topic.split()[0]}\s+(?P<ref>[a-z]*{number}\d*)\b",),
                f"Reference {{ref}} about {topic}.",
                priority=rng.randint(0, 5),
            )
        else:
            rule = Rule(
                "similar",
                (f"how do I get help with my {topic}", f"question about {topic}"),
                f"Help with {topic}.",
                threshold=0.8,
                priority=rng.randint(0, 5),
            )
        rules.append(rule)
    return rules


def synthetic_messages(count: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    messages = []
    for _ in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(4, 16))]
        if rng.random() < 0.4:
            words.insert(rng.randint(0, len(words)), rng.choice(TOPICS))
        messages.append(" ".join(words))
    return messages


def run_bench(
    sizes: Sequence[int] = (10, 100, 1000), messages: int = 300, encoder: Encoder | None = None
) -> list[BenchResult]:
    """Build an index of each size on a temporary in-memory store and time `messages` lookups."""
    results = []
    texts = synthetic_messages(messages)
    for size in sizes:
        store = Store.open(":memory:")
        try:
            repository = RuleRepository(store, max_rules=max(size, 1))
            repository.import_rules([rule.to_dict() for rule in synthetic_rules(size, encoder is not None)], "bench")
            replier = AutoReplier(repository, (lambda: encoder) if encoder is not None else None)
            started = time.perf_counter()
            index = replier.index()
            build_s = time.perf_counter() - started
            replier.find(texts[0], "bench", "chat", index)  # warm-up (loads the encoder if needed)
            embed = replier._encode() if index.needs_embedding("bench", "chat") else None
            timings, match_timings = [], []
            for text in texts:
                started = time.perf_counter()
                vector = embed([text])[0] if embed is not None else None
                matched_at = time.perf_counter()
                index.match(text, "bench", "chat", vector)
                finished = time.perf_counter()
                timings.append((finished - started) * 1000)
                match_timings.append((finished - matched_at) * 1000)
        finally:
            store.close()
        results.append(
            BenchResult(
                size,
                len(texts),
                statistics.median(timings),
                _p99(timings),
                build_s,
                embed is not None,
                statistics.median(match_timings),
                _p99(match_timings),
            )
        )
    return results


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
