"""show_progress: the reply is sent with its first words and edited as it grows into the final, gated text."""

from __future__ import annotations

from pathlib import Path

from adapters.telegram import create_adapter
from tests.adapters.telegram.conftest import build_bot
from tests.fakes.telegram_api import FakeTelegramServer
from tests.support import SlowStreamingEngine


async def test_growing_reply_is_sent_once_and_edited_into_the_final_text(
    tmp_path: Path, telegram_server: FakeTelegramServer
) -> None:
    words = "We are open from nine to five on weekdays, and call +44 20 7946 0958 for anything urgent."
    app = build_bot(
        tmp_path,
        telegram_server,
        SlowStreamingEngine([words]),
        settings={"show_progress": True},
        bot_extra="progress_interval_s = 0.2",
    )
    await app.start()
    adapter = create_adapter(app.platform_context())
    await adapter.start()
    try:
        await telegram_server.push_message("when are you open?")
        query = "select status, platform_message_id, text from messages where role = 'assistant'"
        await telegram_server.wait_for(
            lambda: (
                app.store.db.execute(query).fetchall()[0:1] and app.store.db.execute(query).fetchall()[0][0] == "sent"
            )
        )
        sent = telegram_server.replies_to(111)
        assert len(sent) == 1
        assert len(telegram_server.state.edits) >= 2
        assert all("7946" not in text for _, _, text in telegram_server.state.edits)
        [(status, platform_id, text)] = app.store.db.execute(query).fetchall()
        assert (status, platform_id) == ("sent", str(sent[0].message_id))
        assert sent[0].text == text and "[phone removed]" in text
    finally:
        await adapter.stop()
        await app.stop()
