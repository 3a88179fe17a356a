"""Fit the semantic small-talk head (bot/policy/small_talk_semantic.json) on third-party TUNING intents only.

Data (read from ../shared/data at run time; never CLINC150's or Banking77's test files): CLINC150 train + val
queries and Banking77 train queries. Small talk = CLINC150's small-talk domain (all 15 intents, see
SMALL_TALK_INTENTS: "what_can_i_ask_you" is the curated kind what_can_you_do, "who_do_you_work_for" is answered
by who_are_you / about_you, so both count as small talk); not small talk = every other CLINC150 domain (the meta
domain too: "what's my name" is a memory follow-up, "yes"/"no" are counted against us) and Banking77.

Split by intent, seeded (SEED): 5 of the 15 small-talk intents, a third of the other CLINC150 intents and a third
of Banking77's are held out (HELDOUT below, printed and committed before the held-out side was scored). On the
tuning side, 5-fold cross-validation grouped by intent compares candidate heads (logistic regressions, class
weights balanced, over the closest similarity alone, over `similarity_features`, or over the message's vector and
those, C in 1 / 10 / 100); each candidate's threshold is the lowest probability at which
the out-of-fold false small-talk rate over tuning non-small-talk queries stays at or under TARGET_FALSE (0.5 %,
half the 1 % budget). The candidate with the highest out-of-fold recall is refitted on all tuning queries and
keeps its out-of-fold threshold. Only messages the stage sees count: the policy runs it on messages with no
business word, not about the person, not harmful by words, of at most MAX_WORDS words; the others count as "not
taken" for both classes (a small-talk query with a business word is a miss).

    python scripts/fit_small_talk_semantic.py            # tuning only: CV, fit, write the head
    python scripts/fit_small_talk_semantic.py --heldout  # also score the held-out intents (one look; count it)
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.multilingual_encoder import MultilingualEncoder  # noqa: E402
from bot.policy.route import classify_turn  # noqa: E402
from bot.policy.signals import is_about_business, is_harmful_request, is_personal, is_self_harm  # noqa: E402
from bot.policy.small_talk import SmallTalkSet  # noqa: E402
from bot.policy.small_talk_semantic import (  # noqa: E402
    HEAD_PATH,
    MAX_WORDS,
    SemanticHead,
    SemanticSmallTalk,
    head_features,
)

DATA = ROOT.parent / "shared" / "data"
CACHE = ROOT / "var" / "small_talk_semantic"
SEED = 20
TARGET_FALSE = 0.005
SMALL_TALK_INTENTS = (
    "greeting", "goodbye", "tell_joke", "where_are_you_from", "how_old_are_you", "what_is_your_name",
    "who_made_you", "thank_you", "what_can_i_ask_you", "what_are_your_hobbies", "do_you_have_pets",
    "are_you_a_bot", "meaning_of_life", "who_do_you_work_for", "fun_fact",
)  # fmt: skip


@dataclass(frozen=True)
class Query:
    text: str
    intent: str  # "clinc:<intent>" or "banking77:<intent>"
    small_talk: bool


def load_queries() -> list[Query]:
    clinc = json.loads((DATA / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    queries = [
        Query(text, f"clinc:{intent}", intent in SMALL_TALK_INTENTS) for text, intent in clinc["train"] + clinc["val"]
    ]
    with (DATA / "banking77" / "train.csv").open(encoding="utf-8") as handle:
        queries += [Query(row["text"], f"banking77:{row['category']}", False) for row in csv.DictReader(handle)]
    return queries


def split_intents(queries: list[Query]) -> set[str]:
    """The held-out intents: 5 small-talk ones, a third of the other CLINC150 ones, a third of Banking77's."""
    rng = random.Random(SEED)
    talk = sorted({q.intent for q in queries if q.small_talk})
    other = sorted({q.intent for q in queries if not q.small_talk and q.intent.startswith("clinc:")})
    banking = sorted({q.intent for q in queries if q.intent.startswith("banking77:")})
    held: set[str] = set()
    for group, count in ((talk, 5), (other, len(other) // 3), (banking, len(banking) // 3)):
        held.update(rng.sample(group, count))
    return held


def encode_cached(encoder: MultilingualEncoder, texts: list[str], name: str) -> NDArray[np.float32]:
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"{name}-{digest}.npy"
    if path.exists():
        return np.asarray(np.load(path), dtype=np.float32)
    vectors = np.concatenate([encoder.encode(texts[i : i + 256]) for i in range(0, len(texts), 256)])
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def eligible(text: str) -> bool:
    """Whether the policy would let the semantic stage see `text` at all (see the module docstring)."""
    return (
        len(text.split()) <= MAX_WORDS
        and not is_about_business(text)
        and not is_personal(text)
        and not is_self_harm(text)
        and not is_harmful_request(text)
    )


STRING_KINDS = ("small_talk", "near_small_talk", "greeting_question")


def string_stage_takes(small_talk: SmallTalkSet, text: str) -> bool:
    """Whether the policy without the semantic stage answers `text` as small talk (cached: it is slow)."""
    return classify_turn(text, small_talk).kind in STRING_KINDS


def string_stage_on_small_talk(small_talk: SmallTalkSet, queries: list[Query]) -> NDArray[np.bool_]:
    """What the string stage takes, for the small-talk queries only (about 0.1 s a query: the other queries are
    left out, so the false rates below are the semantic stage's own, what it adds). Cached under var/."""
    path = CACHE / "string_stage.json"
    cached: dict[str, bool] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    for query in queries:
        if query.small_talk and query.text not in cached:
            cached[query.text] = string_stage_takes(small_talk, query.text)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cached), encoding="utf-8")
    return np.array([q.small_talk and cached[q.text] for q in queries])


def threshold_for(scores: NDArray[np.float64], negatives: NDArray[np.bool_]) -> float:
    """The lowest threshold at which at most TARGET_FALSE of `negatives` score at or above it."""
    ordered = np.sort(scores[negatives])[::-1]
    allowed = int(np.floor(TARGET_FALSE * len(ordered)))
    return float(ordered[allowed] + 1e-9)


def fit_head(features: NDArray[np.float64], labels: NDArray[np.bool_], columns: list[int], c: float) -> SemanticHead:
    model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced", random_state=SEED)
    model.fit(features[:, columns], labels)
    weights = np.zeros(features.shape[1])
    weights[columns] = model.coef_[0]
    head = SemanticHead(tuple(float(w) for w in weights), float(model.intercept_[0]), 0.5)
    return head


def rates(taken: NDArray[np.bool_], queries: list[Query], mask: NDArray[np.bool_]) -> dict[str, float | int]:
    talk = np.array([q.small_talk for q in queries]) & mask
    clinc_other = np.array([not q.small_talk and q.intent.startswith("clinc:") for q in queries]) & mask
    banking = np.array([q.intent.startswith("banking77:") for q in queries]) & mask
    return {
        "small_talk_recall": float(taken[talk].mean()),
        "small_talk_n": int(talk.sum()),
        "false_clinc_other": float(taken[clinc_other].mean()),
        "false_clinc_other_count": int(taken[clinc_other].sum()),
        "clinc_other_n": int(clinc_other.sum()),
        "false_banking77": float(taken[banking].mean()),
        "false_banking77_count": int(taken[banking].sum()),
        "banking77_n": int(banking.sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--heldout", action="store_true", help="score the held-out intents once (count the look)")
    args = parser.parse_args()

    queries = load_queries()
    held = split_intents(queries)
    print("held-out intents:", ", ".join(sorted(held)))
    is_held = np.array([q.intent in held for q in queries])
    tuning = ~is_held
    labels = np.array([q.small_talk for q in queries])

    encoder = MultilingualEncoder(threads=1)
    small_talk = SmallTalkSet.load()
    stage = SemanticSmallTalk(small_talk, encoder, SemanticHead((0.0,), 0.0, 1.0))
    example_vectors, _ = stage.example_vectors()
    vectors = encode_cached(encoder, [q.text for q in queries], "queries")
    features = head_features(vectors, vectors @ example_vectors.T)
    sims = features.shape[1] - 3  # the first similarity column
    seen = np.array([eligible(q.text) for q in queries])
    string_taken = string_stage_on_small_talk(small_talk, queries)

    everything = list(range(features.shape[1]))
    candidates = {
        "closest similarity, C=1": ([sims], 1.0),
        "similarity features, C=1": ([sims, sims + 1, sims + 2], 1.0),
        **{f"vector + similarity features, C={c:g}": (everything, c) for c in (1.0, 10.0, 100.0)},
    }
    groups = sorted({q.intent for q in np.array(queries, dtype=object)[tuning]})
    fold_of = {intent: index % 5 for index, intent in enumerate(random.Random(SEED).sample(groups, len(groups)))}
    folds = np.array([fold_of.get(q.intent, -1) for q in queries])
    best_name, best_recall, best_threshold = "", -1.0, 1.0
    for name, (columns, c) in candidates.items():
        oof = np.full(len(queries), -np.inf)
        for fold in range(5):
            train = tuning & (folds != fold) & seen
            test = tuning & (folds == fold) & seen
            oof[test] = fit_head(features[train], labels[train], columns, c).probability(features[test])
        negatives = tuning & ~labels
        threshold = threshold_for(oof, negatives & seen) if (negatives & seen).any() else 1.0
        taken = seen & (oof >= threshold)
        figures = rates(taken | string_taken, queries, tuning)
        print(f"CV {name}: threshold {threshold:.3f}", json.dumps(figures))
        if figures["small_talk_recall"] > best_recall:
            best_name, best_recall, best_threshold = name, figures["small_talk_recall"], threshold

    columns, c = candidates[best_name]
    train = tuning & seen
    head = fit_head(features[train], labels[train], columns, c)
    scores = head.probability(features)
    # The out-of-fold threshold: one set on the final model's own (in-sample) scores would be too low.
    threshold = best_threshold
    head = SemanticHead(head.weights, head.bias, threshold)
    taken = seen & (scores >= threshold)
    print(f"chosen: {best_name}; threshold {threshold:.3f}")
    print("string stage alone, tuning:", json.dumps(rates(string_taken, queries, tuning)))
    print("string + semantic, tuning (in-sample):", json.dumps(rates(string_taken | taken, queries, tuning)))
    HEAD_PATH.write_text(
        json.dumps(
            {
                "recipe": "scripts/fit_small_talk_semantic.py",
                "features": "512-d USE vector, closest similarity, mean of 3 and of 10 closest similarities",
                "chosen": best_name,
                "weights": [round(w, 6) for w in head.weights],
                "bias": head.bias,
                "threshold": head.threshold,
                "tuning": rates(string_taken | taken, queries, tuning),
            },
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {HEAD_PATH.relative_to(ROOT)}")
    if args.heldout:
        print("string stage alone, HELD OUT:", json.dumps(rates(string_taken, queries, is_held)))
        print("string + semantic, HELD OUT:", json.dumps(rates(string_taken | taken, queries, is_held)))
        for q, flag in zip(queries, taken & is_held & ~labels, strict=True):
            if flag:
                print("  false small talk (held out):", q.intent, "|", q.text)


if __name__ == "__main__":
    main()
