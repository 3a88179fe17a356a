"""A fake Telegram Bot API server (aiohttp on 127.0.0.1) for running the real python-telegram-bot against.

It speaks the HTTP protocol of https://core.telegram.org/bots/api for the methods the bot uses: getMe,
getUpdates (with the real offset semantics: updates below the offset are confirmed and dropped), sendMessage,
sendDocument, sendPhoto, sendChatAction, setMyCommands, deleteWebhook, setWebhook, getChatAdministrators,
deleteMessage and restrictChatMember. Tests push user messages with `push_message`, inject 429/5xx/4xx answers
with `fail_next`, and read what the bot did from `sent`, `actions`, `commands` and `calls`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web

BOT_USER = {"id": 7000001, "is_bot": True, "first_name": "Social Bot", "username": "social_test_bot"}
# Answers above this are cut to keep tests fast; the bot still sees a real long poll.
MAX_LONG_POLL_S = 0.5

JSON = dict[str, Any]


@dataclass(frozen=True)
class SentMessage:
    """A message the bot sent, as the fake recorded it."""

    chat_id: int | str
    message_id: int
    text: str
    reply_to_message_id: int | None
    message_thread_id: int | None
    parse_mode: str | None


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None
    remaining: int = 1
    # Calls that still succeed before this failure starts.
    succeed_first: int = 0


@dataclass
class FakeTelegramState:
    """Everything the fake knows; tests read and arrange it directly."""

    token: str
    updates: list[JSON] = field(default_factory=list)
    sent: list[SentMessage] = field(default_factory=list)
    chat_actions: list[tuple[int | str, str]] = field(default_factory=list)
    actions: list[tuple[str, JSON]] = field(default_factory=list)
    commands: list[JSON] = field(default_factory=list)
    webhooks: list[JSON] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    administrators: dict[int, list[JSON]] = field(default_factory=dict)
    edits: list[tuple[int | str, int, str]] = field(default_factory=list)
    documents: list[tuple[int | str, str, bytes, str]] = field(default_factory=list)  # chat, name, data, caption
    photos: list[tuple[int | str, str, bytes, str]] = field(default_factory=list)  # chat, name, data, caption
    confirmed_below: int = 0  # the highest offset the bot confirmed with


class FakeTelegramServer:
    """Runs the fake on a free port; use `async with FakeTelegramServer() as server`."""

    def __init__(self, token: str = "123456:TEST-token") -> None:
        self.state = FakeTelegramState(token)
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int | str, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._failures: dict[str, list[Failure]] = defaultdict(list)
        self._new_update = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0
        # Called with each non-empty batch getUpdates is about to return (a test may kill the bot there).
        self.on_updates_served: Callable[[list[JSON]], None] | None = None
        # Awaited after a sendMessage is recorded and before it is answered (a test may kill the bot there).
        self.on_message_sent: Callable[[SentMessage], Awaitable[None]] | None = None

    # lifecycle ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegramServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def token(self) -> str:
        return self.state.token

    # arranging ----------------------------------------------------------------------------------------

    async def push_update(self, body: JSON) -> int:
        """Queue an update (any JSON: tests use this for malformed ones too); returns its update id."""
        update_id = next(self._update_ids)
        async with self._new_update:
            self.state.updates.append({"update_id": update_id, **body})
            self._new_update.notify_all()
        return update_id

    async def push_message(
        self,
        text: str | None,
        chat_id: int = 111,
        user_id: int = 111,
        chat_type: str = "private",
        first_name: str = "Alice",
        username: str = "alice",
        is_bot: bool = False,
        thread_id: int | None = None,
        reply_to_bot_message: int | None = None,
        entities: list[JSON] | None = None,
        extra: JSON | None = None,
    ) -> tuple[int, int]:
        """A user's message as Telegram would deliver it; returns (update_id, message_id).

        Mentions of `@social_test_bot` and leading `/commands` in `text` get their entities, as Telegram adds.
        """
        message_id = next(self._message_ids[chat_id])
        chat: JSON = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat.update(first_name=first_name, username=username)
        else:
            chat["title"] = "Test group"
        message: JSON = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": {"id": user_id, "is_bot": is_bot, "first_name": first_name, "username": username},
        }
        if text is not None:
            message["text"] = text
            message["entities"] = entities if entities is not None else _auto_entities(text)
        if thread_id is not None:
            message.update(message_thread_id=thread_id, is_topic_message=True)
            chat["is_forum"] = True
        if reply_to_bot_message is not None:
            message["reply_to_message"] = {
                "message_id": reply_to_bot_message,
                "date": int(time.time()),
                "chat": chat,
                "from": BOT_USER,
                "text": "an earlier reply",
            }
        message.update(extra or {})
        update_id = await self.push_update({"message": message})
        return update_id, message_id

    def set_administrators(self, chat_id: int, user_ids: list[int]) -> None:
        self.state.administrators[chat_id] = [_administrator(user_id) for user_id in user_ids]

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int | None = 1,
        times: int = 1,
        description: str = "",
        after: int = 0,
    ) -> None:
        """Answer the next `times` calls of `method` (after `after` more successes) with an error (429 with
        retry_after, 5xx, 400, 403...)."""
        text = description or {
            429: f"Too Many Requests: retry after {retry_after}",
            500: "Internal Server Error",
            502: "Bad Gateway",
            400: "Bad Request: chat not found",
            403: "Forbidden: bot was blocked by the user",
        }.get(status, "error")
        self._failures[method].append(Failure(status, text, retry_after if status == 429 else None, times, after))

    def replies_to(self, chat_id: int | str) -> list[SentMessage]:
        return [message for message in self.state.sent if message.chat_id == chat_id]

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        """Wait until `predicate()` holds (polling the recorded state); fails the test on timeout."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout} s")
            await asyncio.sleep(0.01)

    # protocol -----------------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.state.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params: JSON = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update(await request.post())
        self.state.calls.append(method)
        failures = self._failures.get(method)
        if failures and failures[0].succeed_first > 0:
            failures[0].succeed_first -= 1
        elif failures:
            failure = failures[0]
            failure.remaining -= 1
            if failure.remaining <= 0:
                failures.pop(0)
            extra = {"parameters": {"retry_after": failure.retry_after}} if failure.retry_after is not None else {}
            return _error(failure.status, failure.description, **extra)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        try:
            return _ok(await handler(params))
        except (KeyError, ValueError) as exc:
            return _error(400, f"Bad Request: {exc}")

    async def _api_getMe(self, params: JSON) -> Any:
        return {
            **BOT_USER,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _api_getUpdates(self, params: JSON) -> Any:
        offset = int(params.get("offset", 0) or 0)
        limit = int(params.get("limit", 100) or 100)
        timeout = min(float(params.get("timeout", 0) or 0), MAX_LONG_POLL_S)
        async with self._new_update:
            if offset:
                # Telegram forgets every update below the offset: it counts as confirmed.
                self.state.confirmed_below = max(self.state.confirmed_below, offset)
                self.state.updates = [u for u in self.state.updates if u["update_id"] >= offset]
            if not self.state.updates and timeout > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._new_update.wait()
            batch = self.state.updates[:limit]
        if batch and self.on_updates_served is not None:
            self.on_updates_served(batch)
        return batch

    async def _api_sendMessage(self, params: JSON) -> Any:
        chat_id = _chat_id(params["chat_id"])
        text = str(params["text"])
        if not text or len(text) > 4096:
            raise ValueError("message text is empty" if not text else "message is too long")
        reply_to = params.get("reply_to_message_id")
        if "reply_parameters" in params:
            reply_to = _json(params["reply_parameters"])["message_id"]
        thread = params.get("message_thread_id")
        message_id = next(self._message_ids[chat_id])
        sent = SentMessage(
            chat_id,
            message_id,
            text,
            int(reply_to) if reply_to else None,
            int(thread) if thread else None,
            params.get("parse_mode"),
        )
        self.state.sent.append(sent)
        if self.on_message_sent is not None:
            await self.on_message_sent(sent)
        chat = {"id": chat_id, "type": "private" if isinstance(chat_id, int) and chat_id > 0 else "supergroup"}
        return {"message_id": message_id, "date": int(time.time()), "chat": chat, "from": BOT_USER, "text": text}

    async def _api_sendDocument(self, params: JSON) -> Any:
        chat_id = _chat_id(params["chat_id"])
        upload = params["document"]
        if not hasattr(upload, "file"):
            raise ValueError("document must be uploaded as a file")
        caption = str(params.get("caption") or "")
        self.state.documents.append((chat_id, upload.filename, upload.file.read(), caption))
        message_id = next(self._message_ids[chat_id])
        chat = {"id": chat_id, "type": "private" if isinstance(chat_id, int) and chat_id > 0 else "supergroup"}
        document = {"file_id": f"doc-{message_id}", "file_unique_id": f"u{message_id}", "file_name": upload.filename}
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": BOT_USER,
            "document": document,
            "caption": caption,
        }

    async def _api_sendPhoto(self, params: JSON) -> Any:
        chat_id = _chat_id(params["chat_id"])
        upload = params["photo"]
        if not hasattr(upload, "file"):
            raise ValueError("photo must be uploaded as a file")
        caption = str(params.get("caption") or "")
        self.state.photos.append((chat_id, upload.filename, upload.file.read(), caption))
        message_id = next(self._message_ids[chat_id])
        chat = {"id": chat_id, "type": "private" if isinstance(chat_id, int) and chat_id > 0 else "supergroup"}
        size = {"file_id": f"photo-{message_id}", "file_unique_id": f"u{message_id}", "width": 640, "height": 480}
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": BOT_USER,
            "photo": [size],
            "caption": caption,
        }

    async def _api_editMessageText(self, params: JSON) -> Any:
        chat_id, message_id = _chat_id(params["chat_id"]), int(params["message_id"])
        for index, message in enumerate(self.state.sent):
            if message.chat_id == chat_id and message.message_id == message_id:
                if message.text == params["text"]:
                    raise ValueError("message is not modified")
                self.state.sent[index] = replace(message, text=params["text"])
                self.state.edits.append((chat_id, message_id, params["text"]))
                return {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private"},
                    "text": params["text"],
                }
        raise ValueError("message to edit not found")

    async def _api_sendChatAction(self, params: JSON) -> Any:
        self.state.chat_actions.append((_chat_id(params["chat_id"]), str(params["action"])))
        return True

    async def _api_setMyCommands(self, params: JSON) -> Any:
        self.state.commands.append(
            {"commands": _json(params["commands"]), "scope": _json(params["scope"]) if "scope" in params else None}
        )
        return True

    async def _api_deleteWebhook(self, params: JSON) -> Any:
        return True

    async def _api_setWebhook(self, params: JSON) -> Any:
        self.state.webhooks.append({key: str(value) for key, value in params.items()})
        return True

    async def _api_getChatAdministrators(self, params: JSON) -> Any:
        chat_id = _chat_id(params["chat_id"])
        return self.state.administrators.get(chat_id, []) if isinstance(chat_id, int) else []

    async def _api_deleteMessage(self, params: JSON) -> Any:
        self.state.actions.append(
            ("deleteMessage", {"chat_id": _chat_id(params["chat_id"]), "message_id": int(params["message_id"])})
        )
        return True

    async def _api_restrictChatMember(self, params: JSON) -> Any:
        self.state.actions.append(
            (
                "restrictChatMember",
                {
                    "chat_id": _chat_id(params["chat_id"]),
                    "user_id": int(params["user_id"]),
                    "permissions": _json(params["permissions"]),
                    "until_date": int(params["until_date"]) if params.get("until_date") else None,
                },
            )
        )
        return True


def _auto_entities(text: str) -> list[JSON]:
    entities: list[JSON] = []
    handle = "@" + BOT_USER["username"]
    start = text.find(handle)
    if start >= 0:
        entities.append({"type": "mention", "offset": _utf16_len(text[:start]), "length": len(handle)})
    if text.startswith("/"):
        command = text.split()[0] if text.split() else text
        entities.append({"type": "bot_command", "offset": 0, "length": _utf16_len(command)})
    return entities


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _administrator(user_id: int) -> JSON:
    rights = [
        "can_be_edited",
        "can_manage_chat",
        "can_delete_messages",
        "can_manage_video_chats",
        "can_restrict_members",
        "can_promote_members",
        "can_change_info",
        "can_invite_users",
        "can_post_stories",
        "can_edit_stories",
        "can_delete_stories",
    ]
    return {
        "status": "administrator",
        "is_anonymous": False,
        "user": {"id": user_id, "is_bot": False, "first_name": f"Admin {user_id}"},
        **dict.fromkeys(rights, True),
    }


def _chat_id(value: Any) -> int | str:
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, **extra: Any) -> web.Response:
    return web.json_response({"ok": False, "error_code": status, "description": description, **extra}, status=status)
