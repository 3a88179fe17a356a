"""The confidence weights in bot/kb/answering.py are what scripts/fit_kb_confidence.py fits on the calibration
split: rerunning the recipe gives them back. They were fitted on the float MiniLM forward (the int8 kernel moves the
judged intercept by ~0.1), so the rerun uses it too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.kb.answering import CONFIDENCE_WEIGHTS, JUDGED_CONFIDENCE_WEIGHTS

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "fit_kb_confidence.py"


@pytest.mark.usefixtures("float_minilm")
@pytest.mark.parametrize(
    ("flags", "shipped"), [(["--judge"], JUDGED_CONFIDENCE_WEIGHTS), ([], CONFIDENCE_WEIGHTS)], ids=["judge", "alone"]
)
def test_refitting_on_the_calibration_split_gives_the_shipped_weights(
    flags: list[str], shipped: tuple[float, ...]
) -> None:
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--json", *flags], check=True, capture_output=True, text=True, timeout=600
    )
    fitted = json.loads(completed.stdout)
    assert fitted["weights"] == pytest.approx(list(shipped), abs=0.05)
    assert fitted["calibration"]["answer_accuracy"] >= 0.85
