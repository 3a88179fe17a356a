"""The dashboard as a feature of `socialbot run`: served beside the adapters when `[dashboard] enabled`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.dashboard.settings import DashboardSection
from bot.plugin import BaseFeature, FeatureContext

if TYPE_CHECKING:
    from bot.dashboard.server import DashboardServer


class DashboardFeature(BaseFeature):
    """Starts the dashboard after the engine and the other features, on the running bot's own objects."""

    name = "dashboard"

    def __init__(self) -> None:
        self.server: DashboardServer | None = None
        self._context: FeatureContext | None = None

    def install(self, context: FeatureContext) -> None:
        self._context = context

    async def start(self) -> None:
        if self._context is None or not self._context.section(DashboardSection).enabled:
            return
        from bot.dashboard.server import DashboardServer

        self.server = DashboardServer(self._context, engine_ready=True)
        await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None
