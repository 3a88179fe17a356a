"""`socialbot doctor`: each check against real files and the project's fake platform servers."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from click.testing import CliRunner

from bot.app import engine_settings
from bot.cli.main import main
from bot.config import LoadedConfig, load_config
from bot.engine.settings import EngineSettings
from bot.ops.doctor import DoctorOptions, check_database, check_model_cache, check_network, run_checks, worst
from bot.store import Store
from tests.fakes.discord_gateway import user_payload
from tests.fakes.discord_rest import FakeDiscordRest
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.telegram_api import FakeTelegramServer

DISCORD_TOKEN = "discord-secret-token-value"


@pytest.fixture
async def fake_discord_api() -> AsyncIterator[str]:
    """The fake Discord REST API on 127.0.0.1; yields its /api/v10 base URL."""
    rest = FakeDiscordRest(DISCORD_TOKEN, user_payload("900", "socialbot", bot=True), "901", [])
    app = web.Application(middlewares=[rest.middleware])
    app.add_routes(rest.routes())
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/api/v10"
    await runner.cleanup()


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """Accepts connections and never answers: the doctor must give up after its timeout."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


def _config(tmp_path: Path, text: str = "", **secrets: str) -> LoadedConfig:
    path = tmp_path / "socialbot.toml"
    path.write_text(f'[bot]\ndatabase = "bot.db"\n{text}', encoding="utf-8")
    return load_config(path, environ=secrets)


async def test_platforms_answer_and_accept_their_tokens(tmp_path: Path, fake_discord_api: str) -> None:
    async with FakeTelegramServer() as telegram:
        config = _config(
            tmp_path,
            f'[telegram]\nbase_url = "{telegram.base_url}"\n',
            TELEGRAM_BOT_TOKEN=telegram.token,
            DISCORD_BOT_TOKEN=DISCORD_TOKEN,
        )
        checks = await check_network(
            config, engine_settings(config), DoctorOptions(api_bases={"discord": fake_discord_api})
        )
    by_name = {check.name: check for check in checks}
    assert by_name["telegram"].status == "ok"
    assert by_name["discord"].status == "ok"
    assert by_name["model.server"].status == "skip"
    assert all(telegram.token not in check.detail and DISCORD_TOKEN not in check.detail for check in checks)


async def test_rejected_tokens_are_failures_that_say_where_to_get_a_new_one(
    tmp_path: Path, fake_discord_api: str
) -> None:
    async with FakeTelegramServer() as telegram:
        config = _config(
            tmp_path,
            f'[telegram]\nbase_url = "{telegram.base_url}"\n',
            TELEGRAM_BOT_TOKEN="999:wrong-telegram-token",
            DISCORD_BOT_TOKEN="wrong-discord-token",
        )
        checks = await check_network(
            config, engine_settings(config), DoctorOptions(api_bases={"discord": fake_discord_api})
        )
    by_name = {check.name: check for check in checks}
    assert (by_name["telegram"].status, by_name["discord"].status) == ("fail", "fail")
    assert "BotFather" in by_name["telegram"].fix
    assert "Developer Portal" in by_name["discord"].fix
    assert all("wrong" not in check.detail + check.fix for check in checks)


async def test_a_server_that_never_answers_fails_within_the_timeout(tmp_path: Path, silent_server: str) -> None:
    config = _config(
        tmp_path,
        f'[telegram]\nbase_url = "{silent_server}/bot"\n',
        TELEGRAM_BOT_TOKEN="1:t",
        DISCORD_BOT_TOKEN="d",
    )
    started = time.monotonic()
    checks = await check_network(
        config, engine_settings(config), DoctorOptions(timeout_s=0.3, api_bases={"discord": silent_server + "/api/v10"})
    )
    assert time.monotonic() - started < 3
    by_name = {check.name: check for check in checks}
    assert by_name["telegram"].status == by_name["discord"].status == "fail"
    assert "no answer within 0.3 s" in by_name["telegram"].detail


async def test_the_remote_model_server_is_checked_with_the_openai_backend(tmp_path: Path) -> None:
    server = FakeOpenAIServer()
    base_url = await server.start()
    try:
        config = _config(tmp_path, f'[model]\nbackend = "openai"\nopenai_base_url = "{base_url}"\n')
        checks = await check_network(config, engine_settings(config), DoctorOptions())
    finally:
        await server.stop()
    model_server = next(check for check in checks if check.name == "model.server")
    assert model_server.status == "ok"
    gone = await check_network(config, engine_settings(config), DoctorOptions(timeout_s=1))
    assert next(check for check in gone if check.name == "model.server").status == "fail"


def test_a_damaged_database_fails_with_restore_advice(tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    store = Store.open(database)
    for index in range(300):
        store.set_state(f"key-{index}", "x" * 200)
    store.close()
    with database.open("r+b") as handle:  # scribble over pages past the schema
        handle.seek(4096 * 3)
        handle.write(b"\xff" * 4096 * 2)
    (check,) = check_database(database)
    assert check.status == "fail"
    assert "socialbot restore" in check.fix


def test_a_healthy_database_passes_both_integrity_checks(tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    Store.open(database).close()
    assert [c.status for c in check_database(database)] == ["ok"]
    (full,) = check_database(database, full=True)
    assert "integrity_check ok" in full.detail


def test_a_missing_model_cache_is_a_warning_with_what_happens_next(tmp_path: Path) -> None:
    check = check_model_cache(EngineSettings(cache_dir=tmp_path / "empty-cache"))
    assert check.status == "warn"
    assert "first start converts it" in check.fix


def test_offline_run_reports_config_source_and_never_prints_secrets(tmp_path: Path) -> None:
    config = _config(tmp_path, TELEGRAM_BOT_TOKEN="123:very-secret")
    checks = run_checks(config, DoctorOptions(check_network=False))
    assert checks[0].detail == f"{tmp_path / 'socialbot.toml'} (found by --config)"
    assert "very-secret" not in json.dumps([check.as_dict() for check in checks])
    assert worst(checks) in ("ok", "warn")


def test_the_cli_exits_1_on_a_failure_and_prints_the_fix(tmp_path: Path) -> None:
    config = tmp_path / "socialbot.toml"
    config.write_text('[bot]\ndatabase = "bot.db"\n', encoding="utf-8")
    (tmp_path / "bot.db").write_bytes(b"this is not sqlite" * 500)
    result = CliRunner().invoke(main, ["--config", str(config), "doctor", "--offline", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output.splitlines()[-1])
    assert report["status"] == "fail"
    database = next(check for check in report["checks"] if check["name"] == "database")
    assert database["status"] == "fail" and database["fix"]
    people = CliRunner().invoke(main, ["--config", str(config), "doctor", "--offline"])
    assert "FAIL  database:" in people.output and "fix: " in people.output


def test_a_config_error_is_reported_as_a_failed_check(tmp_path: Path) -> None:
    config = tmp_path / "socialbot.toml"
    config.write_text("[bot]\nnmae = 'typo'\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "doctor", "--json"])
    assert result.exit_code == 1
    (check,) = json.loads(result.output)["checks"]
    assert (check["name"], check["status"]) == ("config", "fail")
    assert "bot.nmae" in check["detail"]


def test_an_unreadable_database_folder_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        checks = check_database(folder / "sub" / "bot.db")
    finally:
        folder.chmod(0o700)
    if os.geteuid() == 0:  # root writes anywhere: the check rightly passes
        assert checks[0].status == "ok"
    else:
        assert checks[0].status == "fail"
