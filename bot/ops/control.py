"""The local control socket: `socialbot ask` talks to the bot that is already running instead of starting one.

A running `socialbot run` listens on a Unix socket beside its database (`bot.db` -> `bot.db.sock`), so a question
costs a connection, not a second process loading torch, the model and the classifiers. The socket file is
mode 0600 and every connection's peer must be the bot's own user (SO_PEERCRED where the OS has it): only the
owner's user can ask, and there is no token that could leak. The protocol is JSON lines: one request object a
line in, one answer object a line out, in order, on one connection as long as the client likes.

`connect_to_running_bot` returns None when no bot listens (no socket, or a stale one left by a killed bot),
and the caller then answers in its own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import stat
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

log = logging.getLogger(__name__)

# Longest path a Unix socket address holds (108 bytes on Linux with the terminating NUL, 104 on macOS).
MAX_SOCKET_PATH_BYTES = 103
# A request line longer than this is refused (and the connection closed), whatever it holds.
MAX_REQUEST_BYTES = 1 << 20

ControlHandler = Callable[[dict[str, object]], Awaitable[dict[str, object]]]


class ControlError(Exception):
    """The running bot could not answer over the control socket (it went away mid-answer, or refused)."""


def control_socket_path(database_path: Path) -> Path:
    """Where the bot using `database_path` listens: one control socket per database."""
    return database_path.with_name(database_path.name + ".sock")


def socket_path_fits(path: Path) -> bool:
    return len(os.fsencode(path)) <= MAX_SOCKET_PATH_BYTES


def _peer_uid(sock: socket.socket) -> int | None:
    """The connecting process's user id, where the OS tells it (Linux SO_PEERCRED); None elsewhere."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i")))
    return int(uid)


def _someone_listens(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except OSError:
            return False
        return True


class ControlServer:
    """Answers `socialbot ask` requests for a running bot through `handle` (one request at a time per client).

    Started after the bot is built: a request that comes while the model still loads waits for the start, like
    every early turn. A socket another live bot is serving is left alone (that bot answers); a stale one is
    replaced.
    """

    def __init__(self, path: Path, handle: ControlHandler) -> None:
        self.path = path
        self._handle = handle
        self._server: asyncio.AbstractServer | None = None
        self._clients: set[asyncio.Task[None]] = set()
        self._answering: set[asyncio.Task[None]] = set()  # those of `_clients` answering a request now
        self._closing = False

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def start(self) -> bool:
        """Listen; False (logged) when the path is too long, another bot serves it, or it cannot be bound."""
        if not socket_path_fits(self.path):
            log.warning(
                "control socket: path %s is too long for a Unix socket; `socialbot ask` runs on its own", self.path
            )
            return False
        if self.path.exists() or self.path.is_symlink():
            if await asyncio.to_thread(_someone_listens, self.path):
                log.warning("control socket: another bot already answers on %s", self.path)
                return False
            if not stat.S_ISSOCK(self.path.lstat().st_mode):
                log.warning("control socket: %s exists and is not a socket; not replacing it", self.path)
                return False
            self.path.unlink()  # left by a bot that was killed
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(self.path))
            os.chmod(self.path, 0o600)  # a peer that connected in between is refused by its user id anyway
            listener.listen(16)
            listener.setblocking(False)
            self._server = await asyncio.start_unix_server(self._serve, sock=listener, limit=MAX_REQUEST_BYTES)
        except OSError as exc:
            listener.close()
            log.warning("control socket: cannot listen on %s: %s", self.path, exc)
            return False
        log.info("control socket on %s (`socialbot ask` answers through this bot)", self.path)
        return True

    async def stop(self, grace_s: float = 0.0) -> None:
        """Take no new connections; answers in flight get `grace_s` to finish, then they are cut off (their
        messages stay stored, unanswered, like any turn cut off by a stop)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        self._closing = True
        for task in self._clients - self._answering:  # waiting for a request: nothing to finish
            task.cancel()
        if self._answering and grace_s > 0:
            await asyncio.wait(list(self._answering), timeout=grace_s)
        for task in list(self._clients):
            task.cancel()
        await asyncio.gather(*self._clients, return_exceptions=True)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 5.0)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        try:
            sock = writer.get_extra_info("socket")
            uid = _peer_uid(sock) if sock is not None else None
            if uid is not None and uid not in (os.getuid(), 0):
                log.warning("control socket: refused a connection from user id %d", uid)
                return
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    await self._reply(writer, {"error": f"request longer than {MAX_REQUEST_BYTES} bytes"})
                    return
                if not line:
                    return
                if task is not None:
                    self._answering.add(task)
                try:
                    await self._reply(writer, await self._answer(line))
                finally:
                    if task is not None:
                        self._answering.discard(task)
                if self._closing:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away; its answer (if any) is stored like every other
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            if task is not None:
                self._clients.discard(task)
                self._answering.discard(task)

    async def _answer(self, line: bytes) -> dict[str, object]:
        try:
            request = json.loads(line)
        except ValueError as exc:
            return {"error": f"not JSON ({exc})"}
        if not isinstance(request, dict) or not isinstance(request.get("text"), str):
            return {"error": "expected an object with a string 'text'"}
        try:
            return await self._handle(request)
        except Exception as exc:
            log.exception("control socket: a request failed")
            return {"error": str(exc) or type(exc).__name__}

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, answer: dict[str, object]) -> None:
        writer.write(json.dumps(answer, ensure_ascii=False, default=str).encode() + b"\n")
        await writer.drain()


class ControlClient:
    """One connection to a running bot: `ask` sends a request and waits for its answer (in order)."""

    def __init__(self, connection: socket.socket, path: Path) -> None:
        self.path = path
        self._connection = connection
        self._answers = connection.makefile("rb")

    def ask(self, request: dict[str, object]) -> dict[str, object]:
        """The bot's answer to `request`; raises `ControlError` when the bot goes away before answering."""
        try:
            self._connection.sendall(json.dumps(request, ensure_ascii=False).encode() + b"\n")
            line = self._answers.readline()
        except OSError as exc:
            raise ControlError(f"the running bot went away: {exc}") from exc
        if not line:
            raise ControlError("the running bot closed the connection before answering (is it stopping?)")
        try:
            answer = json.loads(line)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ControlError(f"the running bot answered {line[:200]!r}")
        return answer

    def close(self) -> None:
        self._answers.close()
        self._connection.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def connect_to_running_bot(path: Path) -> ControlClient | None:
    """A connection to the bot listening on `path`, or None when none does (no socket, or a stale one)."""
    if not socket_path_fits(path):
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(str(path))
    except OSError:  # FileNotFoundError, ConnectionRefusedError (stale), PermissionError (not our bot)
        connection.close()
        return None
    return ControlClient(connection, path)
