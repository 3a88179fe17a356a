"""Webhook mode: a small aiohttp server that accepts updates Telegram posts, after checking their secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
UpdateReceiver = Callable[[object], Awaitable[None]]


class UpdateNotHandled(Exception):
    """Raised by the receiver when an update was interrupted (shutdown): Telegram should send it again."""


def webhook_secret(token: str) -> str:
    """The secret Telegram sends with every webhook request, derived from the bot token.

    Deriving it means nothing more to configure or store, and it changes when the token is revoked.
    """
    return hmac.new(token.encode(), b"socialbot telegram webhook", hashlib.sha256).hexdigest()


class WebhookServer:
    """Serves `POST <path>`: checks the secret header, then awaits `receive(update_json)` before answering.

    Telegram treats any 2xx as delivered, so the answer waits until the update is handled; a crash before
    that makes Telegram send it again. Requests without the right secret get 403 and are never read.
    """

    def __init__(self, listen: str, port: int, path: str, secret: str, receive: UpdateReceiver) -> None:
        self.listen = listen
        self.port = port
        self.path = path
        self._secret = secret
        self._receive = receive
        self._runner: web.AppRunner | None = None
        self._accepting = False

    @property
    def bound_port(self) -> int:
        """The port actually listened on (differs from `port` when that was 0)."""
        if self._runner is None or not self._runner.addresses:
            return self.port
        return int(self._runner.addresses[0][1])

    async def start(self) -> None:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post(self.path, self._handle)
        # Handlers are already finished or cancelled when the runner is cleaned up (see `stop_accepting`).
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.listen, self.port).start()
        self._accepting = True
        log.info("Telegram webhook listening on %s:%s%s", self.listen, self.bound_port, self.path)

    def stop_accepting(self) -> None:
        """Answer new requests with 503 (Telegram retries them later) while in-flight ones finish."""
        self._accepting = False

    async def stop(self) -> None:
        self._accepting = False
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        if not self._accepting:
            return web.Response(status=503, text="shutting down")
        offered = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(offered.encode(), self._secret.encode()):
            log.warning("webhook request from %s refused: wrong or missing secret token", request.remote)
            return web.Response(status=403, text="forbidden")
        try:
            update = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            log.warning("webhook request with a body that is not JSON ignored")
            return web.Response(status=400, text="expected a JSON update")
        try:
            await self._receive(update)
        except UpdateNotHandled:
            return web.Response(status=503, text="not handled, send it again later")
        return web.Response(text="ok")
