"""The real `socialbot run` in a subprocess against the fake Telegram and Discord servers, killed (-9) or
stopped (SIGTERM) at the worst moments: every message is answered, none twice, and no error text is sent.

Each scenario has 10 users sending 2 messages each. The model is the fake OpenAI-compatible server (so a
test can hold "generation" open and kill the bot inside it), except the `model` scenarios, which run the
real bundled model with a handful of new tokens. A scenario's counts are printed as one table row.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.config import BotSection
from tests.adapters.discord.conftest import TOKEN as DISCORD_TOKEN
from tests.adapters.discord.conftest import FakeDiscord, build_world
from tests.fakes.discord_gateway import FakeGateway, dm_channel_payload, message_payload, snowflake, user_payload
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.telegram_api import FakeTelegramServer, SentMessage

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
USERS = 10
MESSAGES_PER_USER = 2
ERROR_TEXT = BotSection().error_reply
STAFF_CHAT = -100500
START_TIMEOUT_S = 60.0
ANSWER_TIMEOUT_S = 60.0
# The real model answers 20 messages one after another on 2 shared cores: give it room.
MODEL_ANSWER_TIMEOUT_S = 240.0


@dataclass(frozen=True)
class Tally:
    """What a scenario ended with, counted on the fake platform's side."""

    sent: int
    answered: int
    lost: int
    duplicated: int
    error_texts: int

    def row(self, platform: str, scenario: str) -> str:
        return (
            f"| {platform} | {scenario} | {self.sent} | {self.answered} | {self.lost} | {self.duplicated} |"
            f" {self.error_texts} |"
        )


def tally(asked: list[tuple[str, str]], replies: list[tuple[str, str, str]]) -> Tally:
    """`asked`: (chat, message id) of every user message; `replies`: (chat, replied-to id, text)."""
    per_message = Counter((chat, replied_to) for chat, replied_to, _ in replies)
    answered = sum(1 for key in asked if per_message[key] > 0)
    duplicated = sum(max(0, per_message[key] - 1) for key in asked)
    errors = sum(1 for _, _, text in replies if ERROR_TEXT in text)
    return Tally(len(asked), answered, len(asked) - answered, duplicated, errors)


RUNNING: list[BotProcess] = []


class BotProcess:
    """`socialbot --config FILE run` as a child process, its output kept in a log file."""

    def __init__(self, command: list[str], env: dict[str, str], log_path: Path) -> None:
        RUNNING.append(self)
        self.command = command
        self.env = env
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.answer_timeout_s = ANSWER_TIMEOUT_S

    async def start(self) -> None:
        self.starts += 1
        log = self.log_path.open("a", encoding="utf-8")
        log.write(f"\n----- start {self.starts} -----\n")
        log.flush()
        self.process = await asyncio.create_subprocess_exec(
            *self.command, cwd=REPO, env=self.env, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
        log.close()

    def kill9(self) -> None:
        if self.process is not None and self.process.returncode is None:
            os.kill(self.process.pid, signal.SIGKILL)

    def terminate(self) -> None:
        if self.process is not None and self.process.returncode is None:
            os.kill(self.process.pid, signal.SIGTERM)

    async def wait(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        async with asyncio.timeout(timeout):
            return await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.terminate()
            try:
                await self.wait(30)
            except TimeoutError:
                self.kill9()
                await self.wait(10)

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8") if self.log_path.exists() else ""


async def kill_leftovers() -> None:
    """A failed scenario leaves its bot running: end it before the fakes go away."""
    while RUNNING:
        bot = RUNNING.pop()
        bot.kill9()
        if bot.process is not None:
            await bot.wait(10)


async def eventually(check: Callable[[], Any], timeout: float, what: str, bot: BotProcess | None = None) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            if bot is not None and bot.process is not None and bot.process.returncode is None:
                os.kill(bot.process.pid, signal.SIGUSR1)
                await asyncio.sleep(1)
            tail = bot.log_text()[-6000:] if bot is not None else ""
            raise AssertionError(f"{what}: not within {timeout:.0f} s\n{tail}")
        await asyncio.sleep(0.05)


def write_config(tmp_path: Path, sections: str, real_model: bool, openai: FakeOpenAIServer | None) -> Path:
    if real_model:
        model = "[model]\nthreads = 2\n[generation]\nmax_new_tokens = 8\n"
    else:
        assert openai is not None
        model = f'[model]\nbackend = "openai"\nopenai_base_url = "{openai.base_url}"\n'
    text = (
        '[bot]\ndatabase = "bot.db"\n'
        f"{model}"
        '[moderation]\nclassifier = "none"\nharm_check = false\n'
        "[kb]\nenabled = false\n"
        '[logging]\nlevel = "INFO"\n'
        f"{sections}\n"
    )
    path = tmp_path / "socialbot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def base_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.endswith("_BOT_TOKEN")}
    env["PYTHONPATH"] = str(REPO)
    return env


# Telegram -------------------------------------------------------------------------------------------


def telegram_section(server: FakeTelegramServer) -> str:
    values = {
        "base_url": server.base_url,
        "base_file_url": f"http://127.0.0.1:{server.port}/file/bot",
        "poll_timeout_s": 1,
        "flood_messages_per_s": 0,
        "flood_chat_interval_s": 0,
        "flood_group_messages_per_min": 0,
        "network_backoff_s": 0.05,
    }
    return "[telegram]\n" + "\n".join(f"{key} = {json.dumps(value)}" for key, value in values.items())


@dataclass
class TelegramWorld:
    server: FakeTelegramServer
    openai: FakeOpenAIServer
    tmp_path: Path
    asked: list[tuple[str, str]]

    def bot(self, delivery: str = "", real_model: bool = False) -> BotProcess:
        sections = telegram_section(self.server) + "\n[delivery]\nshutdown_grace_s = 5\n" + delivery
        config = write_config(self.tmp_path, sections, real_model, self.openai)
        env = {**base_env(), "TELEGRAM_BOT_TOKEN": self.server.token}
        command = [str(Path(sys.executable).parent / "socialbot"), "--config", str(config), "run"]
        bot = BotProcess(command, env, self.tmp_path / "bot.log")
        if real_model:
            bot.answer_timeout_s = MODEL_ANSWER_TIMEOUT_S
        return bot

    async def push_all(self) -> None:
        for round_ in range(MESSAGES_PER_USER):
            for user in range(USERS):
                chat = 1000 + user
                _, message_id = await self.server.push_message(
                    f"question {round_ + 1} from user {user}", chat_id=chat, user_id=chat, first_name=f"U{user}"
                )
                self.asked.append((str(chat), str(message_id)))

    def replies(self) -> list[tuple[str, str, str]]:
        return [
            (str(m.chat_id), str(m.reply_to_message_id), m.text)
            for m in self.server.state.sent
            if m.chat_id != STAFF_CHAT
        ]

    def staff_notices(self) -> list[SentMessage]:
        return [m for m in self.server.state.sent if m.chat_id == STAFF_CHAT]

    def all_answered(self) -> bool:
        return tally(self.asked, self.replies()).lost == 0

    async def started(self, bot: BotProcess) -> None:
        calls = len(self.server.state.calls)
        await bot.start()
        await eventually(lambda: "getUpdates" in self.server.state.calls[calls:], START_TIMEOUT_S, "start", bot)


@pytest.fixture
async def telegram_world(tmp_path: Path) -> AsyncIterator[TelegramWorld]:
    openai = FakeOpenAIServer()
    await openai.start()
    async with FakeTelegramServer() as server:
        yield TelegramWorld(server, openai, tmp_path, [])
        await kill_leftovers()
    await openai.stop()


async def finish(world: TelegramWorld | DiscordWorld, bot: BotProcess) -> Tally:
    """Restart (the bot was killed or stopped), wait until every message is answered, then stop it."""
    await world.started(bot)
    await eventually(world.all_answered, bot.answer_timeout_s, "every message answered", bot)
    await asyncio.sleep(1.0)  # room for a duplicate to show up
    await bot.stop()
    return tally(world.asked, world.replies())


async def interrupt_and_restart(
    world: TelegramWorld | DiscordWorld,
    bot: BotProcess,
    moment: Callable[[], Any],
    what: str,
    hold_generation: bool = True,
    sigterm: bool = False,
    after_interruption: Callable[[], None] = lambda: None,
) -> tuple[Tally, int]:
    """The shared cycle of a scenario: start the bot, push every user's messages, interrupt it once
    `moment()` holds (kill -9, or SIGTERM and a wait for its clean exit), call `after_interruption`,
    restart it and count.

    With `hold_generation` the fake model answers nothing until the interruption. Returns the final
    tally and how many messages were answered before the restart (for SIGTERM: within the grace period).
    """
    if hold_generation:
        world.openai.hold = asyncio.Event()
    await world.started(bot)
    await world.push_all()
    await eventually(moment, ANSWER_TIMEOUT_S, what, bot)
    if sigterm:
        bot.terminate()
        await asyncio.sleep(0.5)
    else:
        bot.kill9()
        await bot.wait()
    if world.openai.hold is not None:
        world.openai.hold.set()  # with SIGTERM: the replies in flight finish within the grace period
    if sigterm:
        assert await bot.wait(15) == 0
    world.openai.hold = None
    answered_before_restart = tally(world.asked, world.replies()).answered
    after_interruption()
    return await finish(world, bot), answered_before_restart


def generations_in_flight(world: TelegramWorld | DiscordWorld) -> Callable[[], bool]:
    return lambda: world.openai.waiting >= USERS


def expect_nothing_lost(platform: str, scenario: str, result: Tally, duplicates_allowed: int = 0) -> None:
    """Print the scenario's table row, then require 0 lost, no error text and at most the duplicates allowed."""
    print("\n" + result.row(platform, scenario))
    assert (result.lost, result.error_texts) == (0, 0)
    assert result.duplicated <= duplicates_allowed


async def test_telegram_kill9_as_updates_are_handed_over_loses_and_repeats_nothing(
    telegram_world: TelegramWorld,
) -> None:
    world = telegram_world
    bot = world.bot()
    await world.push_all()
    world.server.on_updates_served = lambda batch: bot.kill9()
    await bot.start()
    await bot.wait(START_TIMEOUT_S)
    world.server.on_updates_served = None
    result = await finish(world, bot)
    expect_nothing_lost("telegram", "kill -9 as getUpdates hands the batch over", result)


async def test_telegram_kill9_during_generation_loses_and_repeats_nothing(telegram_world: TelegramWorld) -> None:
    world = telegram_world
    result, _ = await interrupt_and_restart(
        world, world.bot(), generations_in_flight(world), "10 generations in flight"
    )
    expect_nothing_lost("telegram", "kill -9 during generation", result)


@pytest.mark.parametrize("redelivery", ["at_least_once", "at_most_once"])
async def test_telegram_kill9_inside_send_message_follows_the_redelivery_setting(
    telegram_world: TelegramWorld, redelivery: str
) -> None:
    world = telegram_world
    staff = f'redelivery = "{redelivery}"\nstaff_platform = "telegram"\nstaff_chat_id = "{STAFF_CHAT}"\n'
    bot = world.bot(delivery=staff)

    async def kill_inside(sent: SentMessage) -> None:
        world.server.on_message_sent = None
        bot.kill9()  # Telegram accepted the message; the bot never sees the answer
        await asyncio.sleep(0.5)

    world.server.on_message_sent = kill_inside
    result, _ = await interrupt_and_restart(
        world,
        bot,
        lambda: bot.process is not None and bot.process.returncode is not None,
        "killed inside the send",
        hold_generation=False,
    )
    at_least_once = redelivery == "at_least_once"
    expect_nothing_lost("telegram", f"kill -9 inside sendMessage ({redelivery})", result, int(at_least_once))
    if at_least_once:
        assert world.staff_notices() == []
    else:
        [notice] = world.staff_notices()
        assert "may or may not have been posted" in notice.text


async def test_telegram_sigterm_during_generation_finishes_in_flight_replies_and_sends_no_error_text(
    telegram_world: TelegramWorld,
) -> None:
    world = telegram_world
    result, finished_in_grace = await interrupt_and_restart(
        world, world.bot(), generations_in_flight(world), "10 generations in flight", sigterm=True
    )
    expect_nothing_lost("telegram", "SIGTERM during generation", result)
    assert finished_in_grace >= USERS


@pytest.mark.model
async def test_telegram_kill9_during_real_model_generation_loses_and_repeats_nothing(
    telegram_world: TelegramWorld,
) -> None:
    world = telegram_world
    result, _ = await interrupt_and_restart(
        world,
        world.bot(real_model=True),
        lambda: world.server.state.chat_actions,
        "generation started",
        hold_generation=False,
    )
    expect_nothing_lost("telegram", "kill -9 during generation (real model)", result)


# Discord --------------------------------------------------------------------------------------------


@dataclass
class DiscordWorld:
    fake: FakeDiscord
    openai: FakeOpenAIServer
    telegram: FakeTelegramServer
    tmp_path: Path
    asked: list[tuple[str, str]]
    users: list[tuple[dict[str, Any], dict[str, Any]]]  # (user, DM channel)

    def bot(
        self, extra: str = "", real_model: bool = False, with_telegram: bool = False, store_delay_s: float = 0.0
    ) -> BotProcess:
        sections = "[discord]\nguild_ready_timeout_s = 0.05\n[delivery]\nshutdown_grace_s = 5\n" + extra
        if with_telegram:
            sections += "\n" + telegram_section(self.telegram)
        config = write_config(self.tmp_path, sections, real_model, self.openai)
        env = {**base_env(), "DISCORD_BOT_TOKEN": DISCORD_TOKEN, "FAKE_DISCORD_URL": self.fake.base_url}
        if with_telegram:
            env["TELEGRAM_BOT_TOKEN"] = self.telegram.token
        if store_delay_s:
            env["FAKE_DISCORD_STORE_DELAY_S"] = str(store_delay_s)
        command = [sys.executable, "-m", "tests.fakes.discord_bootstrap", "--config", str(config), "run"]
        bot = BotProcess(command, env, self.tmp_path / "bot.log")
        if real_model:
            bot.answer_timeout_s = MODEL_ANSWER_TIMEOUT_S
        return bot

    async def post(self, user: dict[str, Any], channel: dict[str, Any], text: str) -> dict[str, Any]:
        payload = message_payload(channel["id"], user, text)
        await self.fake.gateway.dispatch("MESSAGE_CREATE", payload)
        self.asked.append((channel["id"], payload["id"]))
        return payload

    async def push_all(self) -> None:
        for round_ in range(MESSAGES_PER_USER):
            for index, (user, channel) in enumerate(self.users):
                await self.post(user, channel, f"question {round_ + 1} from user {index}")

    def replies(self) -> list[tuple[str, str, str]]:
        return [
            (str(m["channel_id"]), str(m.get("message_reference", {}).get("message_id", "")), m["content"])
            for m in self.fake.rest.created_messages
        ]

    def all_answered(self) -> bool:
        return tally(self.asked, self.replies()).lost == 0

    def stored(self) -> int:
        """How many of the users' messages the bot's database holds (read-only, while the bot runs)."""
        database = self.tmp_path / "bot.db"
        if not database.exists():
            return 0
        asked = [message_id for _, message_id in self.asked]
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as db:
            marks = ",".join("?" * len(asked))
            query = f"select count(*) from messages where platform_message_id in ({marks})"
            return int(db.execute(query, asked).fetchone()[0])

    async def started(self, bot: BotProcess) -> None:
        identified = len(self.fake.gateway.identifies)
        await bot.start()
        await eventually(lambda: len(self.fake.gateway.identifies) > identified, START_TIMEOUT_S, "start", bot)
        # READY and the guilds are dispatched right after IDENTIFY; give the client a moment to go live.
        await eventually(lambda: self.fake.gateway._current is not None, START_TIMEOUT_S, "live", bot)
        await asyncio.sleep(0.3)


@pytest.fixture
async def discord_world(tmp_path: Path) -> AsyncIterator[DiscordWorld]:
    fake = build_world()
    users = []
    for index in range(USERS):
        user = user_payload(snowflake(), f"user{index}")
        channel = dm_channel_payload(snowflake(), user)
        fake.rest.channels[channel["id"]] = channel
        users.append((user, channel))
    web_app = web.Application(middlewares=[fake.rest.middleware])
    web_app.add_routes(fake.gateway.routes() + fake.rest.routes())
    runner = web.AppRunner(web_app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.base_url = f"http://127.0.0.1:{port}"
    fake.gateway.base_ws_url = f"ws://127.0.0.1:{port}"
    fake.rest.gateway_url = fake.gateway.base_ws_url + FakeGateway.PATH
    openai = FakeOpenAIServer()
    await openai.start()
    async with FakeTelegramServer() as telegram:
        yield DiscordWorld(fake, openai, telegram, tmp_path, [], users)
        await kill_leftovers()
    await openai.stop()
    with contextlib.suppress(Exception):
        await runner.cleanup()


async def test_discord_kill9_while_a_burst_of_events_arrives_loses_only_what_never_reached_the_bot(
    discord_world: DiscordWorld,
) -> None:
    world = discord_world
    # The bot has received the burst once it starts working on it (its first typing indicator).
    result, _ = await interrupt_and_restart(
        world, world.bot(), lambda: world.fake.rest.calls("POST", r"/channels/\d+/typing"), "first turn started"
    )
    expect_nothing_lost("discord", "kill -9 while a burst of events arrives", result)


async def test_discord_kill9_with_delivered_events_not_yet_stored_replays_them_by_resume(
    discord_world: DiscordWorld,
) -> None:
    world = discord_world
    bot = world.bot(store_delay_s=0.25)  # the child stores one message every 0.25 s
    stored_at_kill: list[int] = []

    def count_stored() -> None:
        stored_at_kill.append(world.stored())
        del bot.env["FAKE_DISCORD_STORE_DELAY_S"]  # the restart stores at full speed

    result, _ = await interrupt_and_restart(
        world, bot, lambda: world.stored() >= 3, "the first messages stored", False, after_interruption=count_stored
    )
    # The restart (no delay now) has to get the rest from Discord: only a RESUME of the old session can.
    print(f"\ndelivered {len(world.asked)} events, {stored_at_kill[0]} stored at the kill")
    assert stored_at_kill[0] < len(world.asked), "the kill fell inside the window it measures"
    scenario = f"kill -9 with {len(world.asked) - stored_at_kill[0]} delivered events not stored"
    expect_nothing_lost("discord", scenario, result)
    assert world.fake.gateway.resumes, "the restart resumed the killed process's session"
    assert "Traceback" not in bot.log_text()


async def test_discord_kill9_during_generation_loses_and_repeats_nothing(discord_world: DiscordWorld) -> None:
    world = discord_world
    result, _ = await interrupt_and_restart(
        world, world.bot(), generations_in_flight(world), "10 generations in flight"
    )
    expect_nothing_lost("discord", "kill -9 during generation", result)


async def test_discord_kill9_inside_the_send_call_is_resent_with_the_same_nonce(discord_world: DiscordWorld) -> None:
    world = discord_world
    bot = world.bot()

    async def kill_inside(message: dict[str, Any]) -> None:
        world.fake.rest.on_message_created = None
        bot.kill9()  # Discord created the message; the bot never sees the answer
        await asyncio.sleep(0.5)

    world.fake.rest.on_message_created = kill_inside
    result, _ = await interrupt_and_restart(
        world,
        bot,
        lambda: bot.process is not None and bot.process.returncode is not None,
        "killed inside the send",
        hold_generation=False,
    )
    expect_nothing_lost("discord", "kill -9 inside the send call", result)


async def test_discord_sigterm_during_generation_finishes_in_flight_replies_and_sends_no_error_text(
    discord_world: DiscordWorld,
) -> None:
    world = discord_world
    result, finished_in_grace = await interrupt_and_restart(
        world, world.bot(), generations_in_flight(world), "10 generations in flight", sigterm=True
    )
    expect_nothing_lost("discord", "SIGTERM during generation", result)
    assert finished_in_grace >= USERS


@pytest.mark.model
async def test_discord_kill9_during_real_model_generation_loses_and_repeats_nothing(
    discord_world: DiscordWorld,
) -> None:
    world = discord_world
    result, _ = await interrupt_and_restart(
        world,
        world.bot(real_model=True),
        lambda: world.fake.rest.calls("POST", r"/channels/\d+/typing"),
        "generation started",
        hold_generation=False,
    )
    expect_nothing_lost("discord", "kill -9 during generation (real model)", result)


async def test_a_staff_notice_from_discord_to_telegram_is_sent_exactly_once_across_a_restart(
    discord_world: DiscordWorld,
) -> None:
    world = discord_world
    kb = f'[kb]\nstaff_platform = "telegram"\nstaff_chat_id = "{STAFF_CHAT}"\n'
    bot = world.bot(with_telegram=True)
    config = bot.command[bot.command.index("--config") + 1]
    text = Path(config).read_text(encoding="utf-8").replace("[kb]\nenabled = false\n", kb)
    Path(config).write_text(text, encoding="utf-8")
    await world.started(bot)
    user, channel = world.users[0]
    await world.post(user, channel, "/human my parcel never arrived")

    def notices() -> list[SentMessage]:
        return [m for m in world.telegram.state.sent if m.chat_id == STAFF_CHAT]

    await eventually(notices, ANSWER_TIMEOUT_S, "staff notice on Telegram", bot)
    await eventually(world.all_answered, ANSWER_TIMEOUT_S, "the user told a person will answer", bot)
    await bot.stop()
    await world.started(bot)
    await asyncio.sleep(2.0)  # a notice still owed would go out now
    await bot.stop()
    assert len(notices()) == 1
    assert tally(world.asked, world.replies()).duplicated == 0
