"""A minimal Telegram Bot API on 127.0.0.1, so `socialbot bench start` can time a real `socialbot run` connecting.

It answers only what a start and one reply need (getMe, setMyCommands, deleteWebhook, getUpdates, sendMessage;
anything else gets `true`), hands the bot one private message in its first getUpdates, and notes when the bot
first polled (connected) and first replied. The bot talks to it through python-telegram-bot unmodified, by
`[telegram] base_url`. It measures; it is not a test fake (tests/fakes/telegram_api.py is).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

TOKEN = "123456:BENCH-token"
BOT_USER = {"id": 7000001, "is_bot": True, "first_name": "Bench Bot", "username": "bench_bot"}
MAX_LONG_POLL_S = 0.5


class LoopbackTelegram:
    """Serves on a free port from a thread; `with LoopbackTelegram("hi") as api:` then read `connected_at` etc."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.connected_at: float | None = None  # time.time() of the bot's first getUpdates
        self.replied_at: float | None = None  # time.time() of its first sendMessage
        self.reply_text = ""
        self._delivered = False
        self._lock = threading.Lock()
        self._replied = threading.Event()
        self._connected = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="bench-telegram", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/bot"

    def __enter__(self) -> LoopbackTelegram:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def wait_replied(self, timeout_s: float) -> bool:
        return self._replied.wait(timeout_s)

    def answer(self, method: str, params: dict[str, object]) -> object:
        if method == "getMe":
            return {**BOT_USER, "can_join_groups": True, "can_read_all_group_messages": False}
        if method == "getUpdates":
            return self._updates(float(str(params.get("timeout") or 0)))
        if method == "sendMessage":
            with self._lock:
                if self.replied_at is None:
                    self.replied_at, self.reply_text = time.time(), str(params.get("text", ""))
                    self._replied.set()
            chat = {"id": int(str(params.get("chat_id", 111))), "type": "private", "first_name": "Alice"}
            return {"message_id": 1, "date": int(time.time()), "chat": chat, "text": params.get("text", "")}
        return True

    def _updates(self, timeout_s: float) -> list[dict[str, object]]:
        with self._lock:
            if self.connected_at is None:
                self.connected_at = time.time()
                self._connected.set()
            deliver = not self._delivered
            self._delivered = True
        if not deliver:
            time.sleep(min(timeout_s, MAX_LONG_POLL_S))
            return []
        user = {"id": 111, "is_bot": False, "first_name": "Alice", "username": "alice"}
        chat = {"id": 111, "type": "private", "first_name": "Alice", "username": "alice"}
        message = {"message_id": 1, "date": int(time.time()), "chat": chat, "from": user, "text": self.message}
        return [{"update_id": 1, "message": message}]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self._handle()

            def do_GET(self) -> None:
                self._handle()

            def _handle(self) -> None:
                url = urlsplit(self.path)
                token, _, method = url.path.removeprefix("/bot").partition("/")
                params: dict[str, object] = dict(parse_qsl(url.query))
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if body and "json" in (self.headers.get("Content-Type") or ""):
                    params.update(json.loads(body))
                elif body:
                    params.update(parse_qsl(body.decode()))
                reply = {"ok": True, "result": api.answer(method, params)} if token == TOKEN else {"ok": False}
                data = json.dumps(reply).encode()
                try:
                    self.send_response(200 if token == TOKEN else 401)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the bot stopped while its long poll was open

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
