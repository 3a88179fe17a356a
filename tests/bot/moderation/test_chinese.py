"""The Chinese classifier (COLD) through the shipped gate: routed by language, named in the decision."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.moderation.chinese import ChineseOffensiveClassifier
from bot.moderation.factory import standard_gate
from bot.moderation.linear_text import LinearModelLoadError

INSULT = "你们这些地域黑真是一群傻逼，滚出去"
PLAIN = "请问你们周末几点开门？我想带孩子来买书。"


def test_the_shipped_model_tells_an_insult_from_a_plain_question() -> None:
    classifier = ChineseOffensiveClassifier.load()
    insult, plain = classifier.score_batch([INSULT, PLAIN])
    assert insult >= classifier.threshold > plain


@pytest.mark.slow
def test_the_gate_routes_chinese_to_it_and_says_so() -> None:
    insult, plain = standard_gate().check_inputs([INSULT, PLAIN])
    assert insult.blocked and insult.language == "zh"
    assert {"offensive", "lang:zh", "model:cold-char-lr"} <= set(insult.reasons)
    assert not plain.blocked and plain.judged_by[0] == "cold-char-lr"
    assert "offensive" not in plain.scores  # the English model did not judge it


def test_missing_weights_name_the_training_script(tmp_path: Path) -> None:
    with pytest.raises(LinearModelLoadError, match=r"train_cold\.py"):
        ChineseOffensiveClassifier.load(tmp_path)
