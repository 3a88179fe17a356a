"""End to end: `socialbot ask` is answered by the `socialbot run` that owns the database, over its control socket.

The real command line runs twice over: `socialbot run` with the real model and python-telegram-bot against the
fake Bot API, and `socialbot ask` processes beside it. An `ask` whose own config names a model that does not
exist is still answered: the running bot answers it, nothing is loaded in the `ask` process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import stat
import sys
import time
from pathlib import Path

import pytest

from tests.bot.ops.test_http import FAST_TELEGRAM
from tests.fakes.telegram_api import FakeTelegramServer
from tests.support import write_config

ROOT = Path(__file__).resolve().parents[3]
CLI = ("-c", "from bot.cli.main import main; main()")


async def socialbot(env: dict[str, str], *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *CLI,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin or b""), 240)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def wait_until(predicate: object, what: str, timeout_s: float = 240.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what}: not in {timeout_s:.0f} s"
        await asyncio.sleep(0.1)


@pytest.mark.model
@pytest.mark.slow
async def test_socialbot_ask_is_answered_by_the_running_bot_and_never_loads_a_model_itself(tmp_path: Path) -> None:
    async with FakeTelegramServer() as telegram:
        config = write_config(
            tmp_path,
            FAST_TELEGRAM.format(base=telegram.base_url, files=f"http://127.0.0.1:{telegram.port}/file/bot")
            + "[metrics]\nenabled = false\n[generation]\nmax_new_tokens = 8\n",
        )
        env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN")}
        env["PYTHONPATH"] = str(ROOT)
        bot = await asyncio.create_subprocess_exec(
            sys.executable,
            *CLI,
            "--config",
            str(config),
            "run",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env={**env, "TELEGRAM_BOT_TOKEN": telegram.token},
            cwd=ROOT,
        )
        control = tmp_path / "bot.db.sock"
        try:
            await wait_until(lambda: control.exists() or bot.returncode is not None, "the control socket")
            assert bot.returncode is None, "socialbot run ended early"
            assert stat.S_IMODE(control.stat().st_mode) == 0o600

            # Asked while the bot may still be loading: the turn waits for the start, then it is answered.
            no_model = {**env, "SOCIALBOT__MODEL__NAME": str(tmp_path / "no-such-model")}
            code, out, err = await socialbot(no_model, "--config", str(config), "ask", "--json", "hi")
            assert code == 0, err
            answer = json.loads(out)
            assert answer["reply"] and answer["chat"].startswith("ask-") and answer["decision"] == "allow"
            assert "loading model" not in err  # the running bot answered; this process loaded nothing

            # Many requests as JSON lines on one connection, a broken line answered with its error, in order.
            lines = b'{"chat": "c7", "text": "hello"}\nnot json\n{"chat": "c7", "text": "thanks"}\n'
            code, out, err = await socialbot(no_model, "--config", str(config), "ask", "--json", stdin=lines)
            assert code == 0, err
            rows = [json.loads(line) for line in out.splitlines()]
            assert [row.get("chat") for row in rows] == ["c7", None, "c7"]
            assert rows[0]["reply"] and rows[2]["reply"] and "not JSON" in rows[1]["error"]

            # The platform is served by the same process meanwhile.
            await telegram.push_message("hi")
            await telegram.wait_for(lambda: len(telegram.state.sent) == 1, timeout=120)

            with contextlib.closing(sqlite3.connect(tmp_path / "bot.db")) as db:  # closed: the bot's is the last
                cli_rows = db.execute(
                    "select role, count(*) from messages join conversations on conversations.id = conversation_id"
                    " where platform = 'cli' group by role order by role"
                ).fetchall()
            assert cli_rows == [("assistant", 3), ("user", 3)]
        finally:
            if bot.returncode is None:
                bot.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(bot.wait(), 60)
            except TimeoutError:
                bot.kill()
                await bot.wait()
        assert bot.returncode == 0, (await bot.stderr.read()).decode() if bot.stderr else ""
        assert not control.exists()  # removed on a clean stop
        assert not (tmp_path / "bot.db-wal").exists()  # every connection closed: the WAL was checkpointed


@pytest.mark.model
@pytest.mark.slow
async def test_with_no_bot_running_ask_answers_in_its_own_process_and_leaves_the_database_closed(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, "[generation]\nmax_new_tokens = 8\n[metrics]\nenabled = false\n")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(tmp_path / "bot.db.sock"))  # left by a bot that was killed: nobody answers there
    stale.close()
    env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN")}
    env["PYTHONPATH"] = str(ROOT)
    code, out, err = await socialbot(env, "--config", str(config), "ask", "--json", "hi")
    assert code == 0, err
    # Answered here (the turn policy is off in this config: the model writes the reply, so this process loads it).
    assert json.loads(out)["reply"] and "Loading model" in err
    # It skipped the interpreter's teardown only after closing every connection: the WAL was checkpointed.
    assert not (tmp_path / "bot.db-wal").exists()
    with sqlite3.connect(tmp_path / "bot.db") as db:
        assert db.execute("pragma integrity_check").fetchone() == ("ok",)
        assert db.execute("select count(*) from messages").fetchone() == (2,)


@pytest.mark.model
@pytest.mark.slow
async def test_with_no_bot_running_a_curated_reply_loads_no_model_and_still_passes_the_gate(tmp_path: Path) -> None:
    config = write_config(tmp_path, "[policy]\nenabled = true\n[metrics]\nenabled = false\n")
    env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN")}
    env["PYTHONPATH"] = str(ROOT)
    code, out, err = await socialbot(env, "--config", str(config), "ask", "--json", "hi")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["reply"] and answer["source"] == "policy:small_talk"
    assert "Loading model" not in err  # a curated reply: the model was never loaded
    with sqlite3.connect(tmp_path / "bot.db") as db:
        checks = db.execute("select direction, scores from moderation_decisions").fetchall()
    # The message was judged by the classifiers as in a running bot (a curated text the owner wrote is sent as
    # such, `RouteReply(gate=False)`, here as there).
    assert [direction for direction, _ in checks] == ["in"] and "offensive" in json.loads(checks[0][1])
