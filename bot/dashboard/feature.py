"""The dashboard as a feature of `socialbot run`: served beside the adapters when `[dashboard] enabled`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.dashboard.server import DashboardServer

if TYPE_CHECKING:
    from bot.app import BotApp


class DashboardFeature:
    """Starts the dashboard after the engine and the other features, on the running bot's own objects."""

    name = "dashboard"

    def __init__(self) -> None:
        self.server: DashboardServer | None = None

    def install(self, app: BotApp) -> None:
        return None

    async def start(self, app: BotApp) -> None:
        if not app.config.settings.dashboard.enabled:
            return
        self.server = DashboardServer(app, engine_ready=True)
        await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None
