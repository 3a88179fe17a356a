"""show_progress: the reply appears while it is generated and is edited into the final, gated text."""

from __future__ import annotations

from bot.store import SENT
from tests.adapters.discord.conftest import FakeDiscord, StartBot, eventually
from tests.support import SlowStreamingEngine


async def test_growing_reply_is_posted_once_then_edited_into_the_final_text(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    words = "We are open from nine to five on weekdays, and call +44 20 7946 0958 for anything urgent."
    bot = await start_bot(
        engine=SlowStreamingEngine([words]),
        discord_settings="show_progress = true",
        bot_settings="progress_interval_s = 0.2",
    )
    dm = fake_discord.alice_dm
    await fake_discord.post(fake_discord.alice, "when are you open?", channel=dm)
    reply = await eventually(lambda: [r for r in bot.replies() if r.status == SENT], timeout=10)
    posted = fake_discord.rest.sent_messages(dm["id"])
    assert len(posted) == 1  # one message, edited as it grew
    edits = fake_discord.rest.calls("PATCH", rf"/channels/{dm['id']}/messages/\d+")
    assert len(edits) >= 2
    assert all("7946" not in (edit.body or {}).get("content", "") for edit in edits)
    assert edits[-1].body["content"] == reply[0].text
    assert "[phone removed]" in reply[0].text
    assert reply[0].platform_message_id == fake_discord.rest.created_messages[0]["id"]
