"""The benchmark's memory figure: the engine's own peak, measured apart from the naive baseline's."""

from __future__ import annotations

import sys

import pytest

from bot.benchmarks.engine import peak_rss_mib, reset_peak_rss


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak reset is Linux-only")
def test_a_phase_peak_starts_from_the_current_size_after_a_reset() -> None:
    ballast = bytearray(300 * 2**20)
    ballast[::4096] = b"\x01" * len(ballast[::4096])  # touch every page so it is resident
    with_ballast = peak_rss_mib()
    del ballast
    assert reset_peak_rss()
    after_reset = peak_rss_mib()
    assert with_ballast - after_reset > 250
