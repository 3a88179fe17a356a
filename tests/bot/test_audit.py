"""The audit log: every admin action is recorded with who, what, when, and the state before and after."""

from __future__ import annotations

from pathlib import Path

from bot import audit
from bot.store import Store


def test_recorded_action_reads_back_newest_first_with_before_and_after(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "a.db")
    audit.record(store, "telegram:1", "rules.add", "rule:1", None, {"response": "hi"})
    audit.record(store, "cli", "settings.update", "chat:telegram:9", {"reply_mode": ""}, {"reply_mode": "silent"})
    entries = audit.recent(store)
    assert [(e.actor, e.action, e.target) for e in entries] == [
        ("cli", "settings.update", "chat:telegram:9"),
        ("telegram:1", "rules.add", "rule:1"),
    ]
    assert entries[0].before == {"reply_mode": ""} and entries[0].after == {"reply_mode": "silent"}
    assert entries[1].before is None and entries[0].created_at
    assert [e.action for e in audit.recent(store, action_prefix="rules.")] == ["rules.add"]
    store.close()


def test_forgetting_an_actor_keeps_the_action_but_not_who(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "a.db")
    audit.record(store, "discord:7", "mutes.add", "user:discord:8")
    assert audit.forget_actor(store, "discord:7") == 1
    assert audit.recent(store)[0].actor == "deleted-user"
    store.close()
