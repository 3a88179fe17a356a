"""Per-chat settings changed from the chat with `/settings`: where the bot speaks, persona, language, strictness.

Stored per chat (platform + chat id) in SQLite, cached in memory, and applied through the manager's
`addressing`, `strictness` and `persona_for` policies. Empty values mean "as configured".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from bot import audit
from bot.addressing import addressed_by_default
from bot.messages import ConversationKey, IncomingMessage
from bot.moderation.gate import Strictness
from bot.store import Store, utc_now

ReplyMode = Literal["", "always", "mention", "silent"]
REPLY_MODES: tuple[str, ...] = ("always", "mention", "silent")
STRICTNESS_LEVELS: tuple[str, ...] = ("relaxed", "normal", "strict")


@dataclass(frozen=True)
class ChatSettings:
    """One chat's overrides; "" means the configured default."""

    reply_mode: ReplyMode = ""
    persona: str = ""
    language: str = ""
    strictness: str = ""

    def to_dict(self) -> dict[str, str]:
        return {key: value for key, value in asdict(self).items() if value}


class ChatSettingsStore:
    """Reads and writes chat settings; a read is a dict lookup once a chat was seen."""

    def __init__(
        self,
        store: Store,
        default_language: str = "en",
        default_persona: str = "persona",
        group_modes: Mapping[str, str] | None = None,
    ) -> None:
        self.store = store
        self.group_modes = dict(group_modes or {})
        self.default_language = default_language
        self.default_persona = default_persona
        self._cache: dict[tuple[str, str], ChatSettings] = {}

    def get(self, key: ConversationKey) -> ChatSettings:
        cache_key = (key.platform, key.chat_id)
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        rows = list(
            self.store.db.query(
                "select * from chat_settings where platform = ? and chat_id = ? and thread_id = ''",
                [key.platform, key.chat_id],
            )
        )
        settings = ChatSettings()
        if rows:
            row = rows[0]
            settings = ChatSettings(
                row["reply_mode"] or "",
                row["persona"] or "",
                row["language"] or "",  # type: ignore[arg-type]
                row["strictness"] or "",
            )
        self._cache[cache_key] = settings
        return settings

    def update(self, key: ConversationKey, actor: str, **changes: Any) -> ChatSettings:
        """Change some settings of a chat (values "" reset them) and audit the change."""
        before = self.get(key)
        after = replace(before, **changes)
        with self.store.transaction() as db:
            db.table("chat_settings").upsert(
                {
                    "platform": key.platform,
                    "chat_id": key.chat_id,
                    "thread_id": "",
                    **asdict(after),
                    "updated_by": actor,
                    "updated_at": utc_now(),
                },
                pk=("platform", "chat_id", "thread_id"),
            )
        self._cache[(key.platform, key.chat_id)] = after
        audit.record(
            self.store,
            actor,
            "settings.update",
            f"chat:{key.platform}:{key.chat_id}",
            before.to_dict(),
            after.to_dict(),
        )
        return after

    # manager policies ---------------------------------------------------------------------------------

    def addressing(self, message: IncomingMessage) -> bool:
        """Whether the bot should answer: `always` answers every message, `silent` none, else when addressed."""
        if not message.may_reply:
            return False
        mode = self.get(message.conversation).reply_mode
        if mode == "silent":
            return False
        if mode == "always":
            return not message.author.is_bot
        if mode == "mention":
            return message.is_addressed_to_bot
        return addressed_by_default(message, self.group_modes)

    def strictness(self, message: IncomingMessage) -> Strictness:
        level = self.get(message.conversation).strictness
        return level if level in STRICTNESS_LEVELS else "normal"  # type: ignore[return-value]

    def persona_for(self, message: IncomingMessage) -> str:
        return self.get(message.conversation).persona or self.default_persona

    def language_for(self, key: ConversationKey) -> str:
        return self.get(key).language or self.default_language
