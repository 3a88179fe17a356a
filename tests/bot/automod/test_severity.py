"""Severity of a flagged message: rule hits (blocklist, patterns, per-language word lists) count as deletes."""

from __future__ import annotations

from bot.automod.policy import AutomodPolicy, severity
from bot.moderation.gate import ModerationDecision


def test_a_word_list_hit_is_as_severe_as_a_blocklist_hit() -> None:
    policy = AutomodPolicy()
    listed = ModerationDecision("block", "x", ("wordlist:es", "lang:es", "model:wordlist:es"), {})
    blocklisted = ModerationDecision("block", "x", ("blocklist",), {})
    assert severity(listed, policy) == severity(blocklisted, policy) == 2


def test_a_chinese_model_score_counts_like_the_english_one() -> None:
    policy = AutomodPolicy()
    decision = ModerationDecision("block", "x", ("offensive", "lang:zh"), {"offensive_zh": 0.99})
    assert severity(decision, policy) == 3
