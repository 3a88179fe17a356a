"""What the dashboard pages act through: the running (or a standalone) `BotApp` and its features.

Pages never reimplement a feature: they call the knowledge base, rule repository, draft store, posting
service, moderation log and ticket desk that the features installed, and record every change in the audit
log. When a feature is not installed its pages say so instead of failing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot import audit
from bot.messages import OutgoingMessage
from bot.store import PENDING_SEND, Store
from bot.suggest.generator import SuggestionService

if TYPE_CHECKING:
    from bot.automod.feature import AutomodFeature
    from bot.kb.feature import KbFeature
    from bot.plugin import FeatureContext
    from bot.rules.feature import RulesFeature
    from bot.scheduling.feature import SchedulingFeature

log = logging.getLogger(__name__)

ACTOR = "dashboard:owner"
STAFF_REPLY_SOURCE = "dashboard:staff"


@dataclass(frozen=True)
class StaffReplyResult:
    """A staff reply stored in the member's conversation; `delivered` once the platform confirmed it."""

    message_id: int
    delivered: bool
    error: str = ""


@dataclass(frozen=True)
class MemberRef:
    """A member as the dashboard addresses them: platform plus the platform's user id."""

    id: int
    platform: str
    platform_user_id: str
    display_name: str
    username: str

    @property
    def label(self) -> str:
        return self.display_name or self.username or self.platform_user_id


class DashboardServices:
    """The bot seen from the dashboard: its store, features, delivery and engine."""

    def __init__(self, app: FeatureContext, engine_ready: bool) -> None:
        self.app = app
        self.engine_ready = engine_ready
        self._engine_lock = asyncio.Lock()
        self._started_engine = False

    @property
    def store(self) -> Store:
        return self.app.store

    # The features whose pages are shown, found by type among the services they offer (None when one is not
    # installed: its pages say so).

    @property
    def kb(self) -> KbFeature | None:
        from bot.kb.feature import KbFeature

        return self.app.services.get(KbFeature)

    @property
    def rules(self) -> RulesFeature | None:
        from bot.rules.feature import RulesFeature

        return self.app.services.get(RulesFeature)

    @property
    def scheduling(self) -> SchedulingFeature | None:
        from bot.scheduling.feature import SchedulingFeature

        return self.app.services.get(SchedulingFeature)

    @property
    def suggestions(self) -> SuggestionService | None:
        """The suggestion service, when the `suggest` feature is installed."""
        return self.app.services.get(SuggestionService)

    @property
    def automod(self) -> AutomodFeature | None:
        from bot.automod.feature import AutomodFeature

        return self.app.services.get(AutomodFeature)

    def record(self, action: str, target: str, before: Any = None, after: Any = None) -> None:
        """One audit entry per change the owner makes here."""
        audit.record(self.store, ACTOR, f"dashboard.{action}", target, before, after)

    async def ensure_engine(self) -> None:
        """Load the model on first need when the dashboard runs without the bot (drafts, grounded answers)."""
        async with self._engine_lock:
            if not self.engine_ready:
                await self.app.engine.start()
                self.engine_ready = self._started_engine = True

    async def close(self) -> None:
        if self._started_engine:
            await self.app.engine.stop()

    # members ----------------------------------------------------------------------------------------

    def member(self, user_id: int) -> MemberRef | None:
        rows = list(self.store.db.query("select * from users where id = ?", [user_id]))
        if not rows:
            return None
        row = rows[0]
        return MemberRef(
            row["id"], row["platform"], row["platform_user_id"], row["display_name"] or "", row["username"] or ""
        )

    def export_member(self, member: MemberRef) -> dict[str, Any]:
        """Everything stored about one member, as JSON-ready data (what they could ask to see)."""
        db = self.store.db
        profile = next(iter(db.query("select * from users where id = ?", [member.id])), None)
        messages = list(
            db.query(
                "select m.id, c.platform, c.chat_id, c.thread_id, m.role, m.text, m.created_at, m.status "
                "from messages m join conversations c on c.id = m.conversation_id where m.user_id = ? order by m.id",
                [member.id],
            )
        )
        tickets = (
            list(
                db.query("select id, status, summary, opened_at, closed_at from tickets where user_id = ?", [member.id])
            )
            if db.table("tickets").exists()
            else []
        )
        automod = (
            list(
                db.query(
                    "select a.id, a.actions, a.reasons, a.text, a.created_at from automod_actions a "
                    "join conversations c on c.id = a.conversation_id where a.platform_user_id = ? and c.platform = ?",
                    [member.platform_user_id, member.platform],
                )
            )
            if db.table("automod_actions").exists()
            else []
        )
        for row in automod:
            row["actions"], row["reasons"] = json.loads(row["actions"]), json.loads(row["reasons"])
        # What each installed feature exports about them through its hook (a plug-in's own data included).
        by_feature = {
            feature.name: rows
            for feature in self.app.features
            if (rows := feature.export_user(member.platform, member.platform_user_id))
        }
        return {
            "profile": profile,
            "messages": messages,
            "tickets": tickets,
            "automod_actions": automod,
            "features": by_feature,
        }

    def forget_member(self, member: MemberRef) -> int:
        """Delete a member's data exactly as their own /forgetme does: every feature's hook, then the store."""
        sessions = [
            self.store.conversation_key(row["conversation_id"]).session_id
            for row in self.store.db.query(
                "select distinct conversation_id from messages where user_id = ?", [member.id]
            )
        ]
        for forget in self.app.manager().forget_hooks:
            forget(member.platform, member.platform_user_id)
        removed = self.store.delete_user_data(member.platform, member.platform_user_id)
        for session in sessions:
            self.app.engine.forget_conversation(session)
        self.record(
            "member.delete", f"{member.platform}:{member.platform_user_id}", None, {"messages_removed": removed}
        )
        return removed

    # delivery ---------------------------------------------------------------------------------------

    async def send_staff_reply(self, conversation_id: int, text: str, reply_to: str = "") -> StaffReplyResult:
        """Store a staff reply as owed in the conversation and deliver it like any bot reply.

        With the platform connected (inside `socialbot run`) it goes out now; otherwise the bot sends it
        when it next connects (owed replies are delivered on start).
        """
        key = self.store.conversation_key(conversation_id)
        stored = self.store.insert_message(
            conversation_id, "assistant", text, PENDING_SEND, reply_to_message_id=reply_to, source=STAFF_REPLY_SOURCE
        )
        outgoing = OutgoingMessage(key, text, reply_to, stored, kind="reply")
        sender = self.app.senders.get(key.platform)
        if sender is None:
            return StaffReplyResult(stored, False, f"{key.platform} is not connected here; the bot sends it on start")
        from bot.delivery import DeliveryError

        try:  # the dispatcher behind the sender records the delivery, or keeps the reply owed
            await sender.send(outgoing)
        except DeliveryError as exc:
            return StaffReplyResult(stored, False, str(exc))
        return StaffReplyResult(stored, True)
