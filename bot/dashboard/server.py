"""Running the dashboard on a host and port: `DashboardServer(app, engine_ready).start()` / `.stop()`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from bot.dashboard.services import DashboardServices
from bot.dashboard.settings import DashboardSection
from bot.dashboard.site import create_app

if TYPE_CHECKING:
    from bot.plugin import FeatureContext

log = logging.getLogger(__name__)


class DashboardServer:
    """The dashboard's HTTP listener over one bot's features (the running bot's, or a standalone one)."""

    def __init__(self, app: FeatureContext, engine_ready: bool) -> None:
        self.settings = app.config.section(DashboardSection)
        self.services = DashboardServices(app, engine_ready)
        self.web_app = create_app(self.services, self.settings, app.config.resolve_path(self.settings.uploads_dir))
        self._runner: web.AppRunner | None = None
        self.port = self.settings.port

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.port}/"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.web_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("dashboard listening on %s", self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.services.close()
