"""Headless Chromium from the system (Debian's `chromium` package) driven by Playwright, or a skip reason.

The tests never download a browser: they use /usr/bin/chromium (or $SOCIALBOT_CHROMIUM) with a fresh
profile, and skip with the reason when it or the Playwright package is missing or cannot start.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    configured = os.environ.get("SOCIALBOT_CHROMIUM", "/usr/bin/chromium")
    return configured if os.path.exists(configured) else shutil.which("chromium")


async def launch(profile_dir: Path) -> tuple[Any, Any] | str:
    """(playwright, persistent browser context) or the reason the browser cannot run here."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        return "the playwright Python package is not installed (pip install playwright)"
    executable = chromium_path()
    if executable is None:
        return "no Chromium at /usr/bin/chromium (apt-get install chromium chromium-driver)"
    playwright = await async_playwright().start()
    try:
        context = await playwright.chromium.launch_persistent_context(
            str(profile_dir), executable_path=executable, headless=True, args=CHROMIUM_ARGS, timeout=30_000
        )
    except Exception as exc:
        await playwright.stop()
        return f"Chromium at {executable} could not be started: {str(exc).splitlines()[0]}"
    return playwright, context
