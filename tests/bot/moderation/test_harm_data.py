"""The harm check's splits: by behaviour (never by row), seeded, and the same for trainer and evaluation."""

from __future__ import annotations

import pytest

from bot.evaluation.harm_data import deal_groups, load_jailbreakbench
from bot.evaluation.moderation import shared_data_dir


def test_groups_are_dealt_60_20_20_within_each_stratum_reproducibly() -> None:
    groups = [f"behaviour {index}" for index in range(20)]
    strata = {group: "a" if index < 10 else "b" for index, group in enumerate(groups)}
    first = deal_groups(groups * 3, strata)
    assert first == deal_groups(list(reversed(groups)), strata)
    for stratum in ("a", "b"):
        members = [first[group] for group in groups if strata[group] == stratum]
        assert (members.count("fit"), members.count("calibration"), members.count("test")) == (6, 2, 2)


@pytest.mark.skipif(not (shared_data_dir() / "jailbreakbench").is_dir(), reason="needs ../shared/data")
def test_no_behaviour_is_in_two_jailbreakbench_splits() -> None:
    _, behaviours, row_behaviours = load_jailbreakbench(shared_data_dir())
    fit, calibration, test = (set(behaviours[split]) for split in ("fit", "calibration", "test"))
    assert not fit & calibration and not fit & test and not calibration & test
    assert len(test) >= 15
    assert set(row_behaviours["test"]) == test
