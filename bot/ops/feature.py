"""The ops server as a bot feature: started after the engine and stopped with the bot."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.ops.settings import MetricsSection
from bot.plugin import BaseFeature, FeatureContext

if TYPE_CHECKING:
    from bot.ops.http import OpsServer

log = logging.getLogger(__name__)


class OpsFeature(BaseFeature):
    """Serves /healthz and /metrics while the bot runs (`[metrics]`); a busy port is logged, never fatal."""

    name = "ops"

    def __init__(self, section: MetricsSection) -> None:
        self.section = section
        self.server: OpsServer | None = None  # made when it first listens: aiohttp is imported then
        self._context: FeatureContext | None = None
        self._listening = False
        self._gave_up = False  # its port was busy: logged once, the bot runs without it

    def install(self, context: FeatureContext) -> None:
        self._context = context

    async def serve_before_start(self) -> None:
        """Listen already while the model loads (`BackgroundStart`): /healthz answers "not ready" meanwhile."""
        await self._listen()

    async def start(self) -> None:
        await self._listen()
        if self.server is not None:
            self.server.endpoints.ready = True

    async def _listen(self) -> None:
        if self._listening or self._gave_up or self._context is None or not self.section.enabled:
            return
        if self.server is None:
            from bot.ops.http import OpsServer

            self.server = OpsServer(self._context, self.section.host, self.section.port)
        try:
            await self.server.start()
        except OSError as exc:
            log.error(
                "metrics: cannot listen on %s:%d: %s (set [metrics] port)", self.section.host, self.section.port, exc
            )
            self.server = None
            self._gave_up = True
            return
        self._listening = True
        log.info("health and metrics on %s/healthz and %s/metrics", self.server.url, self.server.url)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.endpoints.ready = False
            await self.server.stop()
            self._listening = False
