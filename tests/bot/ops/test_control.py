"""The control socket: a running bot answers `socialbot ask` over a Unix socket only its own user can open."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import time
from pathlib import Path

from bot.ops.control import (
    MAX_SOCKET_PATH_BYTES,
    ControlServer,
    connect_to_running_bot,
    control_socket_path,
)


async def echo(request: dict[str, object]) -> dict[str, object]:
    if request["text"] == "explode":
        raise RuntimeError("the handler failed")
    return {"reply": f"you said {request['text']}", "chat": request.get("chat")}


def test_each_database_has_its_own_socket_beside_it(tmp_path: Path) -> None:
    assert control_socket_path(tmp_path / "bot.db") == tmp_path / "bot.db.sock"


async def test_answers_come_back_in_order_on_one_connection_and_the_socket_is_owner_only(tmp_path: Path) -> None:
    server = ControlServer(tmp_path / "bot.db.sock", echo)
    assert await server.start()
    try:
        assert stat.S_IMODE(os.stat(server.path).st_mode) == 0o600
        client = await asyncio.to_thread(connect_to_running_bot, server.path)
        assert client is not None
        with client:
            first = await asyncio.to_thread(client.ask, {"text": "one", "chat": "c1"})
            second = await asyncio.to_thread(client.ask, {"text": "two"})
        assert first == {"reply": "you said one", "chat": "c1"}
        assert second == {"reply": "you said two", "chat": None}
    finally:
        await server.stop()
    assert not server.path.exists()


async def test_a_bad_request_or_a_failing_handler_gets_an_error_answer_and_the_connection_goes_on(
    tmp_path: Path,
) -> None:
    server = ControlServer(tmp_path / "bot.db.sock", echo)
    assert await server.start()
    try:

        def exchange() -> list[bytes]:
            with socket.socket(socket.AF_UNIX) as raw:
                raw.connect(str(server.path))
                answers = raw.makefile("rb")
                raw.sendall(b"not json\n" + b'{"no": "text"}\n' + b'{"text": "explode"}\n' + b'{"text": "ok"}\n')
                return [answers.readline() for _ in range(4)]

        lines = await asyncio.to_thread(exchange)
        assert b'"error": "not JSON' in lines[0]
        assert b"expected an object with a string 'text'" in lines[1]
        assert b"the handler failed" in lines[2]
        assert b"you said ok" in lines[3]
    finally:
        await server.stop()


async def test_no_bot_means_no_connection_and_a_stale_socket_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "bot.db.sock"
    assert connect_to_running_bot(path) is None  # nothing there
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))  # left behind by a bot that was killed: nobody listens
    stale.close()
    assert path.exists() and connect_to_running_bot(path) is None
    server = ControlServer(path, echo)
    assert await server.start()
    try:
        client = await asyncio.to_thread(connect_to_running_bot, path)
        assert client is not None
        with client:
            assert (await asyncio.to_thread(client.ask, {"text": "hi"}))["reply"] == "you said hi"
    finally:
        await server.stop()


async def test_a_second_bot_on_the_same_database_leaves_the_first_ones_socket_alone(tmp_path: Path) -> None:
    first = ControlServer(tmp_path / "bot.db.sock", echo)
    assert await first.start()
    try:
        second = ControlServer(tmp_path / "bot.db.sock", echo)
        assert not await second.start()
        await second.stop()
        assert first.path.exists()  # still the first bot's
        client = await asyncio.to_thread(connect_to_running_bot, first.path)
        assert client is not None
        client.close()
    finally:
        await first.stop()


async def test_a_path_too_long_for_a_unix_socket_is_not_served(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * (MAX_SOCKET_PATH_BYTES + 1))
    server = ControlServer(deep / "bot.db.sock", echo)
    assert not await server.start()
    assert connect_to_running_bot(deep / "bot.db.sock") is None


async def test_a_file_that_is_not_a_socket_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "bot.db.sock"
    path.write_text("someone's file")
    assert not await ControlServer(path, echo).start()
    assert path.read_text() == "someone's file"


async def test_stopping_lets_an_answer_in_flight_finish_within_the_grace(tmp_path: Path) -> None:
    answering = asyncio.Event()

    async def slow(request: dict[str, object]) -> dict[str, object]:
        answering.set()
        await asyncio.sleep(0.3)
        return {"reply": "done"}

    server = ControlServer(tmp_path / "bot.db.sock", slow)
    assert await server.start()
    client = await asyncio.to_thread(connect_to_running_bot, server.path)
    assert client is not None
    with client:
        asked = asyncio.ensure_future(asyncio.to_thread(client.ask, {"text": "hi"}))
        await asyncio.wait_for(answering.wait(), 10)
        started = time.monotonic()
        await server.stop(grace_s=10)
        assert (await asked) == {"reply": "done"}
        assert time.monotonic() - started < 5  # it waited for the answer, not for the whole grace
    assert connect_to_running_bot(server.path) is None
