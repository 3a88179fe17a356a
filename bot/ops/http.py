"""/healthz and /metrics as aiohttp routes, mountable on any aiohttp application, and a small server of their own.

`add_ops_routes(web_app, app)` adds the two routes to an existing server (the dashboard's, say);
`OpsServer` serves them alone on the `[metrics]` address.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.engine.base import EngineStats
from bot.ops.health import HealthReport, health_report
from bot.ops.metrics import build_registry, render

if TYPE_CHECKING:
    from bot.plugin import FeatureContext

log = logging.getLogger(__name__)


def expected_platforms(app: FeatureContext) -> list[str]:
    """The platforms `socialbot run` starts: those whose token is configured."""
    from bot.plugin_registry import platform_specs

    return [spec.name for spec in platform_specs() if not spec.interactive and spec.configured(app.config)]


def engine_stats(app: FeatureContext) -> EngineStats | None:
    stats = getattr(app.engine, "stats", None)
    return stats() if callable(stats) else None


class OpsEndpoints:
    """The two handlers for one bot; `ready` is set once the bot has started."""

    def __init__(self, app: FeatureContext) -> None:
        self.app = app
        self.ready = False
        self.registry = build_registry(app.config.database_path, app.engine)

    def report(self) -> HealthReport:
        return health_report(
            self.ready,
            expected_platforms(self.app),
            self.app.senders,
            engine_stats(self.app),
            self.app.config.database_path,
        )

    async def healthz(self, request: web.Request) -> web.Response:
        report = await asyncio.to_thread(self.report)
        return web.json_response(report.as_dict(), status=200 if report.healthy else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        body = await asyncio.to_thread(render, self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_ops_routes(web_app: web.Application, app: FeatureContext) -> OpsEndpoints:
    """Mount GET /healthz and GET /metrics on `web_app`; set `.ready = True` on the result once `app` started."""
    endpoints = OpsEndpoints(app)
    web_app.router.add_get("/healthz", endpoints.healthz)
    web_app.router.add_get("/metrics", endpoints.metrics)
    return endpoints


class OpsServer:
    """An aiohttp server with only /healthz and /metrics, on `host:port` (port 0: any free one)."""

    def __init__(self, app: FeatureContext, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.web_app = web.Application()
        self.endpoints = add_ops_routes(self.web_app, app)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        runner = web.AppRunner(self.web_app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"
