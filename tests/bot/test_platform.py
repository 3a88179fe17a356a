"""A platform from a separately installed package plugs in through its entry point, with no core edit: one
file declares it, adapts it and carries its transport; `socialbot run`'s loop starts it because its spec says it
is configured, its own config section decides how group chats are answered, and replies go out through it."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.app import BotApp
from bot.cli.main import main
from bot.config import load_config
from bot.plugin_registry import platform_spec, platform_specs
from tests.distributions import installed, write_distribution
from tests.support import write_config

MEMCHAT = '''
"""memchat: a chat platform that lives in memory (a test's stand-in for a real network)."""

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from bot.config import SecretSpec
from bot.dispatch.transport import PostRequest, TransportCapabilities
from bot.messages import Author, ConversationKey, IncomingMessage
from bot.platform import PlatformContext, PlatformSpec
from bot.reachability import Reachability


class MemchatSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = False
    group_reply_mode: str = "mention"


@dataclass
class MemchatTransport:
    platform: str = "memchat"
    capabilities: TransportCapabilities = field(default_factory=lambda: TransportCapabilities(max_text_length=500))
    posted: list = field(default_factory=list)

    async def post(self, request: PostRequest) -> str:
        self.posted.append(request)
        return f"memchat-{len(self.posted)}"

    async def edit(self, conversation, message_id, text):
        return None

    async def delete(self, conversation, message_id):
        return None

    async def typing(self, conversation):
        return None

    async def perform(self, action):
        return None


class MemchatAdapter:
    platform = "memchat"

    def __init__(self, context: PlatformContext) -> None:
        self.context = context
        self.transport = MemchatTransport()
        self.received = 0

    async def start(self) -> None:
        self.context.connect(self.transport)

    async def say(self, chat_id: str, text: str, is_direct: bool) -> None:
        self.received += 1
        await self.context.inbox.receive(
            IncomingMessage(
                conversation=ConversationKey("memchat", chat_id),
                author=Author(f"user-{chat_id}", display_name="Ada"),
                text=text,
                platform_message_id=f"in-{self.received}",
                is_direct=is_direct,
            )
        )

    async def stop_receiving(self) -> None:
        return None

    async def stop(self) -> None:
        await self.context.drain()
        self.context.disconnect(self.transport)


def section(config) -> MemchatSection:
    return config.section(MemchatSection)


TOKEN = SecretSpec("memchat_token", "MEMCHAT_TOKEN", "the memchat bot token")


async def check_reachable(config, probe) -> Reachability:
    if config.secrets.value(TOKEN.key) is None:
        return Reachability("skip", "no MEMCHAT_TOKEN")
    return Reachability("ok", "memchat (in memory) reachable, token accepted")


spec = PlatformSpec(
    "memchat",
    MemchatAdapter,
    configured=lambda config: section(config).enabled,
    settings_section="memchat",
    settings_model=MemchatSection,
    secrets=(TOKEN,),
    check_reachable=check_reachable,
    group_reply_mode=lambda config: section(config).group_reply_mode,
    message_link=lambda conversation, message_id: f"memchat://{conversation.chat_id}/{message_id}",
)
'''


@pytest.fixture
def memchat_site(tmp_path: Path) -> Path:
    site = tmp_path / "site-packages"
    files = write_distribution(
        site,
        "memchat",
        "0.1",
        {"memchat.py": MEMCHAT},
        {"socialbot.platforms": {"memchat": "memchat:spec"}},
    )
    # The platform is one file; installing it adds METADATA and entry_points.txt. No core file changes.
    assert sorted(path.name for path in files) == ["METADATA", "entry_points.txt", "memchat.py"]
    return site


async def _wait_for(condition, timeout_s: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout_s / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_an_installed_platform_is_started_and_answers_through_its_own_transport(
    tmp_path: Path, memchat_site: Path
) -> None:
    from bot.engine.fake import ScriptedEngine
    from bot.moderation.gate import GatePolicy, ModerationGate

    with installed(memchat_site):
        assert "memchat" in [spec.name for spec in platform_specs()]
        config = load_config(
            write_config(tmp_path, '[memchat]\nenabled = true\ngroup_reply_mode = "always"\n'), environ={}
        )
        engine = ScriptedEngine()
        engine.enqueue("hello from the model", "hello again")
        app = BotApp.build(config, engine=engine, gate=ModerationGate(GatePolicy()), features=[])
        await app.start()
        # What `socialbot run` does: start every installed, configured, non-interactive platform.
        adapters = [
            spec.create(app.platform_context())
            for spec in platform_specs()
            if not spec.interactive and spec.configured(config)
        ]
        assert [adapter.platform for adapter in adapters] == ["memchat"]
        [adapter] = adapters
        try:
            await adapter.start()
            await adapter.say("dm-1", "hi there", is_direct=True)  # type: ignore[attr-defined]
            # A group message without a mention: answered, because [memchat] group_reply_mode = "always".
            await adapter.say("group-1", "anyone around?", is_direct=False)  # type: ignore[attr-defined]
            transport = adapter.transport  # type: ignore[attr-defined]
            await _wait_for(lambda: len(transport.posted) == 2)
            assert {request.conversation.chat_id for request in transport.posted} == {"dm-1", "group-1"}
            assert {request.text for request in transport.posted} == {"hello from the model", "hello again"}
        finally:
            await adapter.stop()
            await app.stop()


async def test_config_check_and_doctor_ask_an_installed_platform_for_its_token_and_reachability(
    tmp_path: Path, memchat_site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.app import engine_settings
    from bot.ops.doctor import DoctorOptions, check_network, check_secrets

    secret = "memchat-secret-value"
    with installed(memchat_site):
        path = write_config(tmp_path)
        result = CliRunner().invoke(
            main, ["--config", str(path), "config", "check", "--json"], env={"MEMCHAT_TOKEN": secret}
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["tokens_configured"]["memchat"] is True
        assert secret not in result.output
        config = load_config(path, environ={"MEMCHAT_TOKEN": secret})
        [secrets] = check_secrets(config)
        assert secrets.status == "ok" and "memchat" in secrets.detail and secret not in secrets.detail
        checks = await check_network(config, engine_settings(config), DoctorOptions(timeout_s=5))
        by_name = {check.name: check for check in checks}
        assert by_name["memchat"].status == "ok"
        assert (by_name["telegram"].status, by_name["discord"].status) == ("skip", "skip")
        without = load_config(path, environ={})
        [missing] = check_secrets(without)
        assert missing.status == "warn" and "MEMCHAT_TOKEN" in missing.fix and "TELEGRAM_BOT_TOKEN" in missing.fix
    logging.getLogger("memchat").warning("connecting with %s", secret)
    assert secret not in caplog.text and "<secret>" in caplog.text


def test_the_core_asks_the_platform_for_its_links(memchat_site: Path) -> None:
    from bot.kb.feature import message_link
    from bot.messages import ConversationKey

    with installed(memchat_site):
        spec = platform_spec("memchat")
        assert spec is not None
        assert message_link(ConversationKey("memchat", "c1"), "42") == "memchat://c1/42"
    assert message_link(ConversationKey("telegram", "-100123"), "7") == "https://t.me/c/123/7"
    assert message_link(ConversationKey("discord", "123"), "7") == ""


def test_the_scheduler_resends_interrupted_posts_where_the_platform_drops_repeats() -> None:
    from bot.scheduling.feature import idempotent_platforms

    assert idempotent_platforms(None) == ("discord",)
    assert idempotent_platforms(["telegram"]) == ("telegram",)
