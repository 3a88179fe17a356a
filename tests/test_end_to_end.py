"""End to end with the real bundled model: the CLI answers through the whole pipeline and stores it all."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import pytest_asyncio
from click.testing import CliRunner

from bot.app import BotApp
from bot.cli.main import main
from bot.config import load_config
from bot.engine.base import ChatTurn, Engine, GenerationRequest, GenerationResult
from bot.store import Store
from tests.support import incoming

pytestmark = pytest.mark.model

# The plain model pipeline (the turn policy would answer "Hello! Who are you?" itself; tests/bot/policy cover it).
SMALL_REPLIES = "[generation]\nmax_new_tokens = 24\n[policy]\nenabled = false\n"


class PromptRecorder:
    """Wraps the real engine and keeps the prompts it was sent (the real model still generates)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.prompts: list[tuple[ChatTurn, ...]] = []

    @property
    def model_name(self) -> str:
        return self.engine.model_name

    async def start(self) -> None:
        await self.engine.start()

    async def stop(self) -> None:
        await self.engine.stop()

    def count_tokens(self, messages: Sequence[ChatTurn]) -> int:
        return self.engine.count_tokens(messages)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        self.prompts.append(request.messages)
        return await self.engine.generate(request)

    def stream(self, request: GenerationRequest):  # type: ignore[no-untyped-def]
        self.prompts.append(request.messages)
        return self.engine.stream(request)


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "socialbot.toml"
    path.write_text(f'[bot]\ndatabase = "bot.db"\n{SMALL_REPLIES}', encoding="utf-8")
    return path


def test_ask_json_answers_with_the_real_model_and_stores_the_exchange(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = CliRunner().invoke(main, ["--config", str(config), "ask", "--json", "Hello! Who are you?"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["reply"].strip()
    assert answer["source"] == "lm"
    assert answer["decision"] in ("allow", "redact", "block")
    assert "offensive" in answer["scores"]
    store = Store.open(tmp_path / "bot.db")
    rows = list(store.db.query("select role, status, text from messages order by id"))
    assert [(row["role"], row["status"]) for row in rows] == [("user", "answered"), ("assistant", "sent")]
    assert rows[1]["text"] == answer["reply"]
    gated = list(store.db.query("select direction, decision from moderation_decisions order by id"))
    assert [row["direction"] for row in gated] == ["in", "out"]
    store.close()


def test_chat_reads_lines_and_answers_each_through_the_pipeline(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = CliRunner().invoke(main, ["--config", str(config), "chat"], input="Hi there!\n/about\n")
    assert result.exit_code == 0, result.output
    bot_lines = [line for line in result.stdout.splitlines() if line.startswith("socialbot> ")]
    assert len(bot_lines) == 2
    assert "SmolLM2" in bot_lines[1] or "smollm2" in bot_lines[1].lower()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def real_app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[BotApp, PromptRecorder]]:
    tmp_path = tmp_path_factory.mktemp("e2e")
    config = load_config(write_config(tmp_path), environ={})
    from bot.app import engine_settings
    from bot.engine.factory import create_engine

    recorder = PromptRecorder(create_engine(engine_settings(config)))
    app = BotApp.build(config, engine=recorder)
    await app.start()
    yield app, recorder
    await app.stop()


@pytest.mark.asyncio(loop_scope="module")
async def test_one_conversations_history_never_enters_anothers_prompt(
    real_app: tuple[BotApp, PromptRecorder],
) -> None:
    app, recorder = real_app
    await app.manager.handle(incoming("My favourite fruit is the pineapple.", chat_id="alice-chat"))
    await app.manager.handle(incoming("What is my favourite fruit?", chat_id="bob-chat", user_id="bob"))
    bob_prompt = " ".join(turn.content for turn in recorder.prompts[-1])
    assert "pineapple" not in bob_prompt
    replies = await app.manager.handle(incoming("Remind me what I said.", chat_id="alice-chat"))
    alice_prompt = " ".join(turn.content for turn in recorder.prompts[-1])
    assert "pineapple" in alice_prompt
    assert replies and replies[0].text.strip()


def test_run_without_tokens_starts_the_console_chat(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = CliRunner().invoke(
        main, ["--config", str(config), "run"], input="/help\n", env={"TELEGRAM_BOT_TOKEN": "", "DISCORD_BOT_TOKEN": ""}
    )
    assert result.exit_code == 0, result.output
    assert "starting the console chat" in result.output
    assert "socialbot> I'm socialbot" in result.stdout
