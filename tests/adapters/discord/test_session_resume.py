"""A new process RESUMEs the gateway session the previous one saved, so events it never stored are replayed."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import discord
import pytest
import yarl
from discord.gateway import DiscordWebSocket, ReconnectWebSocket

from adapters.discord.session import SESSION_STREAM, STORED_EVENTS, GatewaySession, SequenceTracker
from bot.app import BotApp
from bot.engine.fake import ScriptedEngine
from bot.messages import IncomingMessage
from bot.store import StoreError
from tests.adapters.discord.conftest import FakeDiscord, StartBot, eventually
from tests.fakes.discord_gateway import FakeGateway


def test_discord_py_internals_the_resume_hook_relies_on() -> None:
    """If this fails, discord.py changed what `adapters/discord/session.py` uses: re-read `Client.connect`,
    `DiscordWebSocket.from_client`/`received_message` and `ConnectionState.parsers`, adapt, and move the pin."""
    assert discord.version_info[:2] == (2, 7), (
        f"resume hook checked against discord.py 2.7, found {discord.__version__}"
    )
    from_client = inspect.signature(DiscordWebSocket.from_client).parameters
    assert {"gateway", "session", "sequence", "resume", "shard_id"} <= set(from_client)
    assert "DiscordWebSocket.from_client(self, **ws_params)" in inspect.getsource(discord.Client.connect)
    received = inspect.getsource(DiscordWebSocket.received_message)
    # The sequence is recorded before the event's parser runs, and parsers come from `_discord_parsers`.
    assert received.index("self.sequence = seq") < received.index("self._discord_parsers[event]")
    assert "raise ReconnectWebSocket(self.shard_id, resume=False)" in received  # INVALID_SESSION d=false
    assert inspect.signature(ReconnectWebSocket).parameters.keys() >= {"shard_id", "resume"}
    assert "self.gateway = yarl.URL(data['resume_gateway_url'])" in received
    assert "if self.ws is not None and self.ws.open:" in inspect.getsource(discord.Client.close)
    assert "code" in inspect.signature(DiscordWebSocket.close).parameters
    client = discord.Client(intents=discord.Intents.none())
    parsers = client._connection.parsers
    assert all(callable(parsers[event]) for event in (*STORED_EVENTS, "RESUMED"))
    assert client.ws is None, "the live socket is read from Client.ws"


RESUME_URL = yarl.URL("ws://127.0.0.1/resume")


@dataclass
class SocketState:
    """The three attributes `SequenceTracker` reads from discord.py's socket."""

    session_id: str | None = "s1"
    sequence: int | None = 0
    gateway: yarl.URL = RESUME_URL


def test_the_saved_sequence_never_passes_a_message_not_yet_stored() -> None:
    socket = SocketState()
    tracker = SequenceTracker(lambda: socket)  # type: ignore[arg-type, return-value]
    socket.sequence = 5
    tracker.expect(("MESSAGE_CREATE", 100))
    socket.sequence = 6
    tracker.expect(("MESSAGE_CREATE", 101))
    socket.sequence = 9  # three more events that are not messages

    assert tracker.position() == GatewaySession("s1", 4, "ws://127.0.0.1/resume")
    assert tracker.position(settling=("MESSAGE_CREATE", 100)) == GatewaySession("s1", 5, "ws://127.0.0.1/resume")
    tracker.settle(("MESSAGE_CREATE", 100))
    tracker.settle(("MESSAGE_CREATE", 101))
    assert tracker.position() == GatewaySession("s1", 9, "ws://127.0.0.1/resume"), "other events advance it"


def test_a_message_pending_from_an_older_session_does_not_hold_back_the_new_one() -> None:
    socket = SocketState(sequence=40)
    tracker = SequenceTracker(lambda: socket)  # type: ignore[arg-type, return-value]
    tracker.expect(("MESSAGE_CREATE", 1))
    socket.session_id, socket.sequence = "s2", 3
    assert tracker.position() == GatewaySession("s2", 3, "ws://127.0.0.1/resume")


def test_a_saved_session_that_does_not_parse_is_ignored() -> None:
    assert GatewaySession.from_text("{not json") is None
    assert GatewaySession.from_text('{"session_id": "a"}') is None
    saved = GatewaySession("a", 3, "ws://x/resume")
    assert GatewaySession.from_text(saved.to_text()) == saved


def saved_session(bot_app: BotApp) -> GatewaySession | None:
    return GatewaySession.from_text(bot_app.inbox.position(SESSION_STREAM))


async def test_live_messages_save_the_session_as_they_are_stored(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    bot = await start_bot(engine=ScriptedEngine(["hi"]))
    question = await fake_discord.post(fake_discord.alice, "hello?", channel=fake_discord.alice_dm)
    await eventually(lambda: bot.stored(question["id"]))
    question_seq = next(
        s for s, _, d in fake_discord.gateway._require_session().events if d.get("id") == question["id"]
    )
    saved = saved_session(bot.app)
    assert saved is not None
    assert saved.session_id == fake_discord.gateway.session_id
    assert saved.sequence >= question_seq
    assert saved.resume_url == fake_discord.gateway.base_ws_url + FakeGateway.RESUME_PATH


async def test_a_message_that_could_not_be_stored_holds_the_saved_sequence_before_it(
    start_bot: StartBot, fake_discord: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await start_bot(engine=ScriptedEngine(["fine"]))
    store_for_real = bot.app.inbox.receive

    async def receive(
        message: IncomingMessage, surface: object = None, stream_position: tuple[str, str] | None = None
    ) -> None:
        if message.text == "breaks the store":
            raise StoreError("database or disk is full")
        await store_for_real(message, stream_position=stream_position)

    monkeypatch.setattr(bot.app.inbox, "receive", receive)
    dm = fake_discord.alice_dm
    broken = await fake_discord.post(fake_discord.alice, "breaks the store", channel=dm)
    later = await fake_discord.post(fake_discord.alice, "stored fine", channel=dm)
    await eventually(lambda: bot.stored(later["id"]))
    events = fake_discord.gateway._require_session().events
    broken_seq = next(seq for seq, _, data in events if data.get("id") == broken["id"])
    saved = saved_session(bot.app)
    assert saved is not None and saved.sequence == broken_seq - 1, "the next start gets it replayed"


async def test_messages_the_previous_process_never_stored_are_replayed_and_answered_once(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    gateway = fake_discord.gateway
    old_session = gateway.vanished_session()  # the previous process was killed: its session lives on
    resume_url = gateway.base_ws_url + FakeGateway.RESUME_PATH
    stored_before = await fake_discord.post(fake_discord.alice, "already stored", channel=fake_discord.alice_dm)
    missed = [await fake_discord.post(fake_discord.alice, f"missed {n}", channel=fake_discord.alice_dm) for n in (1, 2)]

    def seed(bot_app: BotApp) -> None:  # what the previous process had stored: its first event only
        bot_app.inbox.advance(SESSION_STREAM, GatewaySession(old_session, 1, resume_url).to_text())

    engine = ScriptedEngine(["answer one", "answer two"])
    bot = await start_bot(engine=engine, prepare=seed)
    await eventually(lambda: len(fake_discord.rest.sent_messages()) == 2, timeout=10)
    await eventually(lambda: old_session not in gateway.sessions)

    assert [gateway.resumes[0]["session_id"], gateway.resumes[0]["seq"]] == [old_session, 1]
    assert len(gateway.identifies) == 1, "the new process has its own session; the old one only replays"
    assert bot.stored(stored_before["id"]) is None, "events up to the saved sequence are not replayed"
    assert all(bot.stored(message["id"]) is not None for message in missed)
    replies = fake_discord.rest.sent_messages()
    assert [str(r["message_reference"]["message_id"]) for r in replies] == [m["id"] for m in missed]
    assert len(engine.requests) == 2
    saved = saved_session(bot.app)
    assert saved is not None and saved.session_id == gateway.session_id, "the new session is saved from now on"


async def test_a_session_discord_no_longer_knows_falls_back_to_the_store(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    gateway = fake_discord.gateway
    resume_url = gateway.base_ws_url + FakeGateway.RESUME_PATH

    def seed(bot_app: BotApp) -> None:
        bot_app.inbox.advance(SESSION_STREAM, GatewaySession("expired-session", 7, resume_url).to_text())

    bot = await start_bot(engine=ScriptedEngine(["still answering"]), prepare=seed)
    await eventually(lambda: gateway.invalid_sessions == 1, timeout=10)
    await eventually(lambda: (saved_session(bot.app) or GatewaySession("", 0, "")).session_id == gateway.session_id)
    await fake_discord.post(fake_discord.alice, "hello", channel=fake_discord.alice_dm)
    sent = await eventually(lambda: fake_discord.rest.sent_messages())
    assert [m["content"] for m in sent] == ["still answering"]
    assert len(gateway.identifies) == 1


async def test_after_a_clean_stop_what_was_sent_while_the_bot_was_down_is_replayed_at_the_next_start(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    gateway, dm = fake_discord.gateway, fake_discord.alice_dm
    first_run = await start_bot(engine=ScriptedEngine(["before the stop"]))
    await fake_discord.post(fake_discord.alice, "hello", channel=dm)
    await eventually(lambda: fake_discord.rest.sent_messages())
    stopped_session = gateway.session_id
    for stop in first_run._stops:
        await stop()
    first_run._stops.clear()
    assert stopped_session in gateway.sessions, "closed with 4000: Discord keeps the session resumable"

    while_down = await fake_discord.post(fake_discord.alice, "are you back?", channel=dm)
    second_run = await start_bot(engine=ScriptedEngine(["back again"]))
    await eventually(lambda: len(fake_discord.rest.sent_messages()) == 2, timeout=10)
    assert gateway.resumes[-1]["session_id"] == stopped_session
    assert second_run.stored(while_down["id"]) is not None
    assert fake_discord.rest.sent_messages()[1]["content"] == "back again"
