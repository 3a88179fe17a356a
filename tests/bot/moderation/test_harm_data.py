"""The harm check's splits: by behaviour (never by row), seeded, and the same for trainer and evaluation."""

from __future__ import annotations

import pytest

from bot.evaluation.harm_data import deal_groups, load_harm_splits, load_jailbreakbench, non_test_folds
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


@pytest.mark.skipif(not (shared_data_dir() / "jailbreakbench").is_dir(), reason="needs ../shared/data")
def test_out_of_fold_folds_cover_fit_and_calibration_by_behaviour_and_never_test() -> None:
    splits = load_harm_splits(shared_data_dir())
    folds, behaviours = non_test_folds(splits)
    assert len(folds) == len(splits.jailbreak["fit"].labels) + len(splits.jailbreak["calibration"].labels)
    fold_of: dict[str, set[int]] = {}
    for fold, behaviour in zip(folds, behaviours, strict=True):
        fold_of.setdefault(behaviour, set()).add(fold)
    assert all(len(value) == 1 for value in fold_of.values())
    assert not set(fold_of) & set(splits.behaviours["test"])
    assert set(folds) == {0, 1, 2, 3, 4}
