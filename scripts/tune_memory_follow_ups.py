"""Choose the similarity threshold of the memory follow-ups recognised by meaning (bot/memory/semantic_recall.py).

Tuning side: third-party questions that must NOT be read as follow-ups (CLINC150 val queries, all intents and
out-of-scope; a seeded 3,000 of Banking77 train) and our own follow-ups (the last turn of every memory item in
eval/conversation/*.jsonl and the 25 of eval/conversation/memory_follow_ups_tuning.tsv: our writing, not
evidence). The threshold is the lowest on a 0.01 grid whose false matches added to the regex stage's are at most
0.1 % of the tuning questions. ``--heldout`` counts false matches on held-out third-party questions once (CLINC150
test queries, Banking77 test.csv); count that look in the README.

    python scripts/tune_memory_follow_ups.py [--data ../shared/data] [--heldout]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.evaluation.moderation import shared_data_dir
from bot.memory.recall import memory_question
from bot.memory.semantic_recall import SemanticFollowUps, load_canonical_follow_ups
from bot.multilingual_encoder import MultilingualEncoder

ROOT = Path(__file__).resolve().parents[1]
MAX_ADDED_FALSE_RATE = 0.001


def third_party(data: Path, heldout: bool) -> list[str]:
    clinc = json.loads((data / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    parts = ("test", "oos_test") if heldout else ("val", "oos_val")
    texts = [str(text) for part in parts for text, _ in clinc[part]]
    name = "test.csv" if heldout else "train.csv"
    with (data / "banking77" / name).open(encoding="utf-8", newline="") as handle:
        banking = [row["text"] for row in csv.DictReader(handle)]
    if not heldout:
        random.Random(13).shuffle(banking)
        banking = banking[:3000]
    return texts + banking


def own_follow_ups() -> list[tuple[str, str]]:
    items = []
    for path in sorted((ROOT / "eval" / "conversation").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and json.loads(line).get("category") == "memory":
                item = json.loads(line)
                items.append((item["text"], item["split"]))
    # Follow-ups written for this tuning (slot, text), in phrasings the regex stage was not written for.
    extra = (ROOT / "eval" / "conversation" / "memory_follow_ups_tuning.tsv").read_text(encoding="utf-8")
    items += [(line.split("\t")[1], "tuning") for line in extra.splitlines() if "\t" in line]
    return items


def counts(matcher: SemanticFollowUps, texts: list[str], threshold: float) -> tuple[int, int, list[str]]:
    """(regex matches, matches the semantic stage adds at ``threshold``, the added texts)."""
    regex = [memory_question(text) is not None for text in texts]
    matcher.threshold = threshold
    added = [t for t, hit in zip(texts, regex, strict=True) if not hit and matcher.question(t) is not None]
    return sum(regex), len(added), added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--heldout", action="store_true")
    args = parser.parse_args()
    data = args.data or shared_data_dir()
    matcher = SemanticFollowUps(load_canonical_follow_ups(), MultilingualEncoder(threads=1))
    negatives = third_party(data, heldout=False)
    positives = [text for text, _ in own_follow_ups()]
    # Similarities once; the threshold sweep then only compares numbers.
    nearest = dict(zip(negatives + positives, matcher.nearest(negatives + positives), strict=True))
    matcher.nearest = lambda texts: [nearest.get(t) for t in texts]  # type: ignore[method-assign]
    allowed = int(MAX_ADDED_FALSE_RATE * len(negatives))
    chosen = 0.99
    for step in range(99, 40, -1):
        threshold = step / 100
        _, added, _ = counts(matcher, negatives, threshold)
        if added > allowed:
            break
        chosen = threshold
    regex_neg, added_neg, added_texts = counts(matcher, negatives, chosen)
    regex_pos, added_pos, _ = counts(matcher, positives, chosen)
    print(f"threshold {chosen} (at most {allowed} added false matches of {len(negatives)})")
    print(f"tuning third-party: regex false matches {regex_neg}, semantic stage adds {added_neg}: {added_texts}")
    print(f"own follow-ups ({len(positives)}): regex {regex_pos}, semantic adds {added_pos} -> {regex_pos + added_pos}")
    if args.heldout:
        held = third_party(data, heldout=True)
        held_nearest = dict(zip(held, SemanticFollowUps(matcher.questions, matcher.encoder).nearest(held), strict=True))
        matcher.nearest = lambda texts: [held_nearest.get(t) for t in texts]  # type: ignore[method-assign]
        regex_held, added_held, held_texts = counts(matcher, held, chosen)
        print(f"HELD OUT ({len(held)}): regex false matches {regex_held}, semantic adds {added_held}: {held_texts}")


if __name__ == "__main__":
    main()
