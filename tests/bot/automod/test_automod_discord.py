"""Automod against the fake Discord with the real discord.py: deletes and timeouts are really requested."""

from __future__ import annotations

from pathlib import Path

from bot.moderation.gate import GatePolicy, ModerationGate
from tests.adapters.discord.conftest import FakeDiscord, StartBot, eventually, fake_discord, start_bot
from tests.bot.automod.test_automod import ScoreByWord
from tests.support import build_test_app

__all__ = ["fake_discord", "start_bot"]  # fixtures shared with the Discord adapter tests


async def test_offender_is_deleted_then_timed_out_and_an_admin_undoes_it(
    tmp_path: Path, start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    gate = ModerationGate(GatePolicy(input_flag_threshold=0.7), offensive=ScoreByWord())
    app = build_test_app(tmp_path, gate=gate, config_text="[discord]\nguild_ready_timeout_s = 0.05\n")
    await app.start()
    await start_bot(app=app)
    general, alice = fake_discord.general["id"], fake_discord.alice["id"]
    rest = fake_discord.rest

    first = await fake_discord.post(fake_discord.alice, "you are awful")
    await eventually(lambda: rest.calls("DELETE", rf"/channels/{general}/messages/{first['id']}"))
    warning = await eventually(lambda: [m for m in rest.sent_messages(general) if "respectful" in m["content"]])
    assert warning[0]["allowed_mentions"]["parse"] == []

    await fake_discord.post(fake_discord.alice, "still awful")
    timeouts = await eventually(lambda: rest.calls("PATCH", rf"/guilds/\d+/members/{alice}"))
    assert timeouts[0].body["communication_disabled_until"] is not None

    timeout_entries = "select max(id) from automod_actions where actions like '%timeout%'"
    # The action is recorded once the platform carried it out: wait for the row, not only for the call.
    entry_id = await eventually(lambda: app.store.db.execute(timeout_entries).fetchone()[0])
    await fake_discord.post(fake_discord.admin, f"/modlog undo {entry_id}")
    lifted = await eventually(lambda: rest.calls("PATCH", rf"/guilds/\d+/members/{alice}")[1:])
    assert lifted[0].body["communication_disabled_until"] is None
    await eventually(
        lambda: [m for m in rest.sent_messages(general) if f"Undid automod action #{entry_id}" in m["content"]]
    )
    await app.stop()
