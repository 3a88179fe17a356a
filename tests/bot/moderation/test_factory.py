"""The gate's policy from the `[moderation]` section: one `harm_threshold` moves both harm-check modes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config
from bot.moderation.factory import gate_policy, pair_threshold


class CalibratedHarm:
    """A harm scorer exposing calibrated thresholds for both modes, as HarmClassifier does."""

    threshold = 0.6
    pair_threshold = 0.8

    def score(self, text: str) -> float:
        return 0.0


def policy_for(tmp_path: Path, moderation: str) -> tuple[float, float | None]:
    config_path = tmp_path / "socialbot.toml"
    config_path.write_text(f'[bot]\ndatabase = "bot.db"\n[moderation]\n{moderation}', encoding="utf-8")
    policy = gate_policy(load_config(config_path, environ={}), harm=CalibratedHarm())
    return policy.harm_threshold, policy.harm_pair_threshold


def test_unset_harm_threshold_keeps_both_calibrated_thresholds(tmp_path: Path) -> None:
    assert policy_for(tmp_path, "") == (0.6, 0.8)


def test_a_configured_harm_threshold_moves_the_pair_threshold_by_the_same_factor(tmp_path: Path) -> None:
    reply_only, pair = policy_for(tmp_path, "harm_threshold = 0.3\n")
    assert reply_only == 0.3
    assert pair == pytest.approx(0.4)


def test_a_pair_threshold_never_exceeds_one() -> None:
    assert pair_threshold(0.9, 0.3, 0.8) == 1.0


def test_no_pair_models_means_no_pair_threshold() -> None:
    assert pair_threshold(0.3, 0.6, None) is None
