"""`socialbot eval moderation` per split: tuning and held-out figures apart, and the gate not below its classifier."""

from __future__ import annotations

import pytest

from bot.evaluation.moderation import shared_data_dir
from bot.evaluation.moderation_report import format_moderation_eval, moderation_eval

DATA = shared_data_dir()


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "jailbreakbench").is_dir(), reason="needs ../shared/data")
def test_the_full_report_has_every_split_and_the_gate_is_not_below_its_classifier() -> None:
    report = moderation_eval(DATA / "olid" / "olid-training-v1.0.tsv", None, fixture=False, progress=lambda _: None)
    splits = report["splits"]
    olid = splits["olid_heldout"]
    assert olid["gate"]["n"] == olid["classifier"]["n"] == report["n"]
    # Measured 0.7881 vs 0.7886: PII removal and confident non-English guesses change a few tweets.
    assert olid["gate"]["macro_f1"] >= olid["classifier"]["macro_f1"] - 0.005
    harm = splits["harm"]
    assert harm["jailbreakbench_calibration"]["behaviours"] >= 15 and harm["jailbreakbench_test"]["behaviours"] >= 15
    # The headline is the gate as shipped: pair mode (the bot passes each reply's request).
    assert report["harm_mode"] == "pair"
    assert report["harm_recall"] == harm["pair"]["jailbreakbench_test"]["recall"]
    assert report["harm_false_block_rate"] == harm["pair"]["jailbreakbench_test"]["false_block_rate"]
    assert {"clinc150", "banking77", "olid_not_offensive", "umsab_spanish", "all"} <= set(harm["benign_test"])
    assert splits["cold"]["test"]["n"] > 6000
    assert splits["benign_regression"]["blocked_as_reply"] == []
    text = format_moderation_eval(report)
    assert "held out" in text and "tuning" in text and "COLD" in text and "pair mode, request + reply" in text
