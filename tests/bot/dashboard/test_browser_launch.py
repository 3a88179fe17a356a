"""Where Chromium cannot start, the browser tests get a reason to skip with instead of an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot.dashboard import browser


async def test_a_browser_that_cannot_start_gives_a_skip_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALBOT_CHROMIUM", "/bin/false")
    reason = await browser.launch(tmp_path / "profile")
    assert isinstance(reason, str) and reason.startswith("Chromium at /bin/false could not be started")
