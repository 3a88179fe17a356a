"""/healthz and /metrics: served by the bot's own small server, counted from the database and the engine."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from adapters.telegram import create_adapter
from bot.app import BotApp
from bot.engine.base import ChatTurn, GenerationRequest, GenerationSettings
from bot.engine.fake import ScriptedEngine
from bot.engine.openai_engine import OpenAIEngine
from bot.engine.settings import EngineSettings
from bot.moderation.gate import GatePolicy, ModerationGate
from bot.ops.feature import OpsFeature
from bot.ops.http import add_ops_routes
from bot.ops.metrics import EngineCollector
from bot.ops.settings import MetricsSection
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.telegram_api import FakeTelegramServer
from tests.support import build_test_app

FAST_TELEGRAM = """
[telegram]
base_url = "{base}"
base_file_url = "{files}"
poll_timeout_s = 1
flood_messages_per_s = 0
flood_chat_interval_s = 0
flood_group_messages_per_min = 0
network_backoff_s = 0.01
network_retries = 0
[delivery]
shutdown_grace_s = 2
"""

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample of a Prometheus text exposition, keyed by name and sorted labels."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


async def get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, response.headers["Content-Type"], await response.text()


async def wait_until(predicate: object, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer() as server:
        yield server


def telegram_bot(tmp_path: Path, server: FakeTelegramServer, engine: ScriptedEngine, gate: ModerationGate) -> BotApp:
    ops = OpsFeature(MetricsSection(port=0))
    config = FAST_TELEGRAM.format(base=server.base_url, files=f"http://127.0.0.1:{server.port}/file/bot")
    return build_test_app(
        tmp_path,
        engine=engine,
        config_text=config,
        gate=gate,
        features=[ops],
        environ={"TELEGRAM_BOT_TOKEN": server.token},
    )


def ops_url(app: BotApp) -> str:
    (feature,) = [f for f in app.features if isinstance(f, OpsFeature)]
    assert feature.server is not None
    return feature.server.url


async def test_healthz_is_503_until_the_configured_platform_connects(
    tmp_path: Path, telegram: FakeTelegramServer
) -> None:
    app = telegram_bot(tmp_path, telegram, ScriptedEngine(), ModerationGate(GatePolicy()))
    await app.start()
    try:
        status, _, body = await get(ops_url(app) + "/healthz")
        report = json.loads(body)
        assert status == 503
        assert report["ready"] and report["engine_alive"] and report["database_writable"]
        assert (report["platforms_expected"], report["platforms_connected"]) == (["telegram"], [])
        adapter = create_adapter(app)
        await adapter.start()
        try:
            status, _, body = await get(ops_url(app) + "/healthz")
            assert status == 200
            assert json.loads(body)["platforms_connected"] == ["telegram"]
        finally:
            await adapter.stop()
    finally:
        await app.stop()


async def test_metrics_count_messages_latency_moderation_and_delivery_failures(
    tmp_path: Path, telegram: FakeTelegramServer
) -> None:
    engine = ScriptedEngine(["We open at nine.", "that is forbiddenword", "Goodbye!"])
    app = telegram_bot(tmp_path, telegram, engine, ModerationGate(GatePolicy(blocklist=("forbiddenword",))))
    await app.start()
    adapter = create_adapter(app)
    await adapter.start()
    try:
        for question in ("when do you open?", "say something bad"):
            await telegram.push_message(question)
        await wait_until(lambda: len(telegram.state.sent) == 2)
        telegram.fail_next("sendMessage", 502, retry_after=None)  # no network retries: the reply stays owed
        await telegram.push_message("bye")
        await wait_until(lambda: count_replies(app, "failed") == 1)
        owed_text = (await get(ops_url(app) + "/metrics"))[2]
        await adapter.stop()
        adapter = create_adapter(app)  # reconnecting sends what is owed
        await adapter.start()
        await wait_until(lambda: count_replies(app, "sent") == 3)
        status, content_type, text = await get(ops_url(app) + "/metrics")
    finally:
        await adapter.stop()
        await app.stop()
    owed = parse(owed_text)
    telegram_label = (("platform", "telegram"),)
    assert owed[("socialbot_delivery_owed_messages", telegram_label)] == 1
    assert owed[("socialbot_delivery_failures_total", telegram_label)] == 1
    assert owed[("socialbot_messages_sent_total", telegram_label)] == 2
    assert status == 200 and content_type.startswith("text/plain")
    samples = parse(text)
    assert samples[("socialbot_messages_received_total", telegram_label)] == 3
    assert samples[("socialbot_messages_sent_total", telegram_label)] == 3
    assert samples[("socialbot_delivery_owed_messages", telegram_label)] == 0
    assert samples[("socialbot_delivery_retries_total", telegram_label)] == 1
    assert samples[("socialbot_delivery_failures_total", telegram_label)] == 1
    assert samples[("socialbot_reply_latency_seconds_count", telegram_label)] == 3
    assert samples[("socialbot_reply_latency_seconds_bucket", (("le", "+Inf"), *telegram_label))] == 3
    assert samples[("socialbot_reply_latency_seconds_bucket", (("le", "5.0"), *telegram_label))] == 3
    blocked = (("decision", "block"), ("direction", "out"), ("reason", "blocklist"))
    assert samples[("socialbot_moderation_decisions_total", blocked)] == 1


def count_replies(app: BotApp, status: str) -> int:
    rows = app.store.db.query("select count(*) as n from messages where role = 'assistant' and status = ?", [status])
    return int(next(iter(rows))["n"])


async def test_the_scheduler_backlog_counts_due_posts_not_yet_sent(tmp_path: Path) -> None:
    app = build_test_app(tmp_path, features=[OpsFeature(MetricsSection(port=0))])
    schedule = app.store.db.table("schedules")
    schedule.insert(
        {
            "text": "Weekly news",
            "platform": "telegram",
            "chat_id": "1",
            "kind": "once",
            "spec": "x",
            "timezone": "UTC",
            "status": "active",
            "created_at": "2026-01-01T00:00:00+00:00",
        }
    )
    schedule_id = schedule.last_pk
    posts = app.store.db.table("posts")
    for index, (slot, state) in enumerate(
        [
            ("2020-01-01T09:00:00.000000+00:00", "pending"),
            ("2099-01-01T09:00:00.000000+00:00", "pending"),
            ("2020-01-02T09:00:00.000000+00:00", "sent"),
        ]
    ):
        posts.insert(
            {
                "schedule_id": schedule_id,
                "slot_time": slot,
                "state": state,
                "attempts": index,
                "created_at": slot,
                "updated_at": slot,
            }
        )
    await app.start()
    try:
        _, _, text = await get(ops_url(app) + "/metrics")
    finally:
        await app.stop()
    samples = parse(text)
    assert samples[("socialbot_scheduler_backlog", ())] == 1
    assert samples[("socialbot_scheduled_posts", (("state", "pending"),))] == 2
    assert samples[("socialbot_scheduled_post_attempts_total", ())] == 3


async def test_engine_metrics_follow_the_remote_backend(tmp_path: Path) -> None:
    server = FakeOpenAIServer()
    base_url = await server.start()
    engine = OpenAIEngine(EngineSettings(backend="openai", openai_base_url=base_url, max_queue=3))
    await engine.start()
    clock = iter([100.0, 102.0]).__next__
    collector = EngineCollector(engine, clock=clock)
    try:
        before = {m.name: m.samples[0].value for m in collector.collect()}
        request = GenerationRequest((ChatTurn("user", "hi"),), GenerationSettings(max_new_tokens=8))
        await engine.generate(request)  # the fake reports as many completion tokens as words: 5
        after = {m.name: m.samples[0].value for m in collector.collect()}
    finally:
        await engine.stop()
        await server.stop()
    assert before["socialbot_engine_generated_tokens"] == 0
    assert after["socialbot_engine_generated_tokens"] == 5
    assert after["socialbot_engine_tokens_per_second"] == pytest.approx(2.5)
    assert after["socialbot_engine_capacity"] == 16 + 3
    assert after["socialbot_engine_up"] == 1 and after["socialbot_engine_queue_depth"] == 0


async def test_the_routes_mount_on_any_aiohttp_application(tmp_path: Path) -> None:
    app = build_test_app(tmp_path, features=[])
    web_app = web.Application()
    web_app.router.add_get("/", lambda request: web.Response(text="dashboard"))
    endpoints = add_ops_routes(web_app, app)
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        assert (await get(base + "/healthz"))[0] == 503  # not started yet
        await app.start()
        endpoints.ready = True
        status, _, body = await get(base + "/healthz")
        assert status == 200 and json.loads(body)["healthy"] is True
        assert "socialbot_scheduler_backlog 0.0" in (await get(base + "/metrics"))[2]
        assert (await get(base + "/"))[2] == "dashboard"
    finally:
        await runner.cleanup()
        await app.stop()


async def test_a_busy_port_is_logged_and_the_bot_still_starts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = build_test_app(tmp_path / "a", features=[OpsFeature(MetricsSection(port=0))])
    await first.start()
    taken = int(ops_url(first).rsplit(":", 1)[1])
    second = build_test_app(tmp_path / "b", features=[OpsFeature(MetricsSection(port=taken))])
    try:
        await second.start()
        assert "cannot listen" in caplog.text
    finally:
        await second.stop()
        await first.stop()


def test_only_socialbot_run_serves_the_endpoints(tmp_path: Path) -> None:
    import click

    from bot.cli.main import CliContext, main

    config = tmp_path / "socialbot.toml"
    config.write_text('[bot]\ndatabase = "bot.db"\n[moderation]\nclassifier = "none"\nharm_check = false\n')
    for command, expected in (("run", True), ("ask", False), ("chat", False)):
        with click.Context(main) as ctx:
            ctx.invoked_subcommand = command
            main.callback.__wrapped__(ctx, str(config), None)  # type: ignore[union-attr]
            assert isinstance(ctx.obj, CliContext)
            app = ctx.obj.build_app(engine=ScriptedEngine())
            app.store.close()
            assert any(isinstance(feature, OpsFeature) for feature in app.features) is expected, command


@pytest.mark.model
@pytest.mark.slow
def test_socialbot_run_serves_healthz_until_it_is_stopped(tmp_path: Path) -> None:
    """The real command: `socialbot run` (console mode) answers /healthz on [metrics] port, then stops on SIGTERM."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "socialbot.toml"
    config.write_text(f'[bot]\ndatabase = "bot.db"\n[metrics]\nport = {port}\n[generation]\nmax_new_tokens = 8\n')
    env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN")}
    bot = subprocess.Popen(
        [sys.executable, "-c", "from bot.cli.main import main; main()", "--config", str(config), "run"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        deadline = time.monotonic() + 300
        report = None
        while report is None:
            assert bot.poll() is None, bot.stderr.read().decode() if bot.stderr else ""
            assert time.monotonic() < deadline, "socialbot run never answered /healthz"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    report = json.loads(response.read())
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        assert report["healthy"] is True and report["platforms_expected"] == []
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            assert b'socialbot_engine_up{backend="transformers"} 1.0' in response.read()
    finally:
        bot.send_signal(signal.SIGTERM)
        if bot.stdin:
            bot.stdin.close()
        try:
            bot.wait(30)
        except subprocess.TimeoutExpired:
            bot.kill()
            bot.wait(10)
