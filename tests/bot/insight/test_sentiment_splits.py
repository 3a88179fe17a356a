"""The UMSAB splits the sentiment model is trained, tuned and measured on: the fresh held-out slice stays apart."""

from __future__ import annotations

from collections import Counter

from bot.evaluation.sentiment import (
    FRESH_HELDOUT_PER_LANGUAGE,
    HELDOUT_PER_LANGUAGE,
    LANGUAGES,
    LabelledTweets,
    load_splits,
    stratified_slice,
)


def test_a_stratified_slice_takes_each_labels_share_of_each_language_among_the_candidates_only() -> None:
    texts = tuple(f"t{i}" for i in range(24))
    data = LabelledTweets(texts, tuple(i % 3 for i in range(24)), tuple(["en"] * 12 + ["fr"] * 12))
    candidates = [i for i in range(24) if i not in {0, 1, 2}]
    chosen = stratified_slice(data, candidates, 6, seed=5)
    assert set(chosen) <= set(candidates) and chosen == sorted(chosen)
    assert Counter(data.languages[i] for i in chosen) == {"en": 6, "fr": 6}
    assert Counter((data.languages[i], data.labels[i]) for i in chosen)[("fr", 0)] == 2
    assert chosen == stratified_slice(data, candidates, 6, seed=5)  # seeded


def test_the_fresh_held_out_slice_is_outside_fit_tune_and_the_old_slice_which_joins_fit() -> None:
    splits = load_splits()
    fresh, old, fit = set(splits.heldout.texts), set(splits.old_heldout.texts), set(splits.fit.texts)
    assert not fresh & fit and not fresh & old and not fresh & set(splits.tune.texts)
    assert old <= fit  # looked at four times by earlier models: training data now
    per_language = Counter(splits.heldout.languages)
    assert per_language == dict.fromkeys(LANGUAGES.values(), FRESH_HELDOUT_PER_LANGUAGE)
    assert Counter(splits.old_heldout.languages) == dict.fromkeys(LANGUAGES.values(), HELDOUT_PER_LANGUAGE)
    assert set(Counter(splits.heldout.labels).values()) == {len(splits.heldout) // 3}
