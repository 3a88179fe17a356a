"""The mute list: people whose messages are stored but never answered, in one chat or a whole platform."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot import audit
from bot.store import Store, utc_now


@dataclass(frozen=True)
class Mute:
    """One active mute; `chat_id` "" covers every chat of the platform, `until` "" means until unmuted."""

    platform: str
    chat_id: str
    user_id: str
    until: str
    muted_by: str


class MuteList:
    """Mutes in SQLite (one indexed lookup per message, so other processes' changes apply at once)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def mute(self, platform: str, chat_id: str, user_id: str, minutes: float | None, actor: str) -> Mute:
        until = ""
        if minutes is not None:
            until = (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()
        entry = Mute(platform, chat_id, user_id, until, actor)
        with self.store.transaction() as db:
            db.table("mutes").upsert(
                {
                    "platform": platform,
                    "chat_id": chat_id,
                    "user_id": user_id,
                    "until": until,
                    "muted_by": actor,
                    "created_at": utc_now(),
                },
                pk=("platform", "chat_id", "user_id"),
            )
        audit.record(
            self.store, actor, "mutes.add", f"user:{platform}:{user_id}", None, {"chat_id": chat_id, "until": until}
        )
        return entry

    def unmute(self, platform: str, chat_id: str, user_id: str, actor: str) -> bool:
        with self.store.transaction() as db:
            removed = db.execute(
                "delete from mutes where platform = ? and chat_id = ? and user_id = ?", [platform, chat_id, user_id]
            ).rowcount
        if removed:
            audit.record(self.store, actor, "mutes.remove", f"user:{platform}:{user_id}", {"chat_id": chat_id}, None)
        return bool(removed)

    def is_muted(self, platform: str, chat_id: str, user_id: str) -> bool:
        now = utc_now()
        rows = self.store.db.query(
            "select 1 from mutes where platform = ? and user_id = ? and chat_id in (?, '') "
            "and (until = '' or until > ?) limit 1",
            [platform, user_id, chat_id, now],
        )
        return any(True for _ in rows)

    def active(self, platform: str = "", chat_id: str | None = None) -> list[Mute]:
        """Mutes still in force, optionally of one platform / chat (chat "" = platform-wide ones)."""
        sql = "select * from mutes where (until = '' or until > ?)"
        params: list[str] = [utc_now()]
        if platform:
            sql += " and platform = ?"
            params.append(platform)
        if chat_id is not None:
            sql += " and chat_id in (?, '')"
            params.append(chat_id)
        rows = self.store.db.query(sql + " order by platform, chat_id, user_id", params)
        return [Mute(r["platform"], r["chat_id"], r["user_id"], r["until"], r["muted_by"]) for r in rows]
