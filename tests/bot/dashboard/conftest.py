"""Dashboard fixtures: a bot on a temporary database with every default feature, its dashboard behind an
aiohttp test client, and helpers to log in and post forms with the session's CSRF token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import BotApp
from bot.dashboard.services import DashboardServices
from bot.dashboard.settings import DashboardSection
from bot.dashboard.site import create_app
from bot.engine.fake import ScriptedEngine
from tests.support import build_test_app

PASSWORD = "correct horse battery staple"
DASHBOARD_CONFIG = """
[kb]
answerability_judge = false
[dashboard]
uploads_dir = "uploads"
max_upload_bytes = 20000
login_attempts = 3
"""
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


@dataclass
class Harness:
    """A logged-out client of a bot's dashboard; `login()` logs it in."""

    app: BotApp
    web_app: web.Application
    client: TestClient[web.Request, web.Application]
    csrf: str = ""

    async def login(self, password: str = PASSWORD) -> int:
        form = await self.client.get("/login")
        token = csrf_from(await form.text())
        response = await self.client.post(
            "/login", data={"csrf_token": token, "password": password}, allow_redirects=False
        )
        if response.status == 303:
            page = await self.client.get("/")
            self.csrf = csrf_from(await page.text())
        return response.status

    async def post(self, path: str, **fields: str) -> tuple[int, str]:
        """Post a form with the session's CSRF token; follows the redirect and returns the final page."""
        response = await self.client.post(path, data={"csrf_token": self.csrf, **fields})
        return response.status, await response.text()


def dashboard_app(tmp_path: Path, engine: ScriptedEngine | None = None, extra: str = "") -> BotApp:
    return build_test_app(
        tmp_path,
        engine=engine or ScriptedEngine(),
        config_text=DASHBOARD_CONFIG + extra,
        environ={"SOCIALBOT_DASHBOARD_PASSWORD": PASSWORD},
    )


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    app = dashboard_app(tmp_path)
    await app.start()
    services = DashboardServices(app.context, engine_ready=True)
    web_app = create_app(services, app.config.section(DashboardSection), app.config.resolve_path("uploads"))
    client = TestClient(TestServer(web_app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield Harness(app, web_app, client)
    finally:
        await client.close()
        await app.stop()
