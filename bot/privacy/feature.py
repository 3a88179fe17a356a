"""The privacy feature: `/export` (a member's data as a JSON file in a private chat), a complete `/forgetme`
through the table registry, and the daily retention job (APScheduler, at `[privacy] retention_hour_utc`)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot import audit
from bot.memory import texts
from bot.messages import OutgoingDocument, OutgoingMessage
from bot.plugin import BaseFeature, FeatureContext
from bot.privacy.export import export_json
from bot.privacy.forget import forget_member
from bot.privacy.member import Member
from bot.privacy.retention import RetentionReport, apply_retention
from bot.privacy.settings import PrivacySection
from bot.routing import Command, RouteReply, TurnContext
from bot.scheduling.clock import Clock, SystemClock

if TYPE_CHECKING:
    from bot.engine.base import Engine
    from bot.store import Store

log = logging.getLogger(__name__)

RETENTION_JOB_ID = "privacy-retention"


class PrivacyFeature(BaseFeature):
    """Export, forget and retention for every table, plugged into a BotApp."""

    name = "privacy"

    def __init__(self, clock: Clock | None = None, run_scheduler: bool = True) -> None:
        self.clock = clock or SystemClock()
        self.run_scheduler = run_scheduler
        self.section: PrivacySection | None = None
        self.store: Store | None = None
        self.engine: Engine | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self.last_report: RetentionReport | None = None
        self._context: FeatureContext | None = None

    def install(self, context: FeatureContext) -> None:
        self.section = context.section(PrivacySection)
        self.store = context.store
        self.engine = context.engine
        self._context = context
        context.add_command(Command("export", "get everything stored about you as a file", self._cmd_export))

    async def start(self) -> None:
        if not self.run_scheduler or self._scheduler is not None:
            return
        assert self.section is not None
        scheduler = AsyncIOScheduler(timezone="UTC")
        scheduler.add_job(
            self.run_retention,
            CronTrigger(hour=self.section.retention_hour_utc, minute=17, timezone="UTC"),
            id=RETENTION_JOB_ID,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        scheduler.start()
        self._scheduler = scheduler

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

    async def run_retention(self) -> RetentionReport:
        """The daily job: remove what is due now, audit and log what went."""
        assert self.store is not None and self.section is not None
        try:
            report = await asyncio.to_thread(apply_retention, self.store, self.section, self.clock.now())
        except Exception:
            log.exception("retention run failed; the next daily run tries again")
            raise
        if report.total:
            audit.record(self.store, "retention", "privacy.retention", "", after=report.as_dict())
        self.last_report = report
        return report

    def forget_user(self, platform: str, user_id: str) -> int:
        """`/forgetme`: everything the registry knows about, except what `Store.delete_user_data` does next;
        and the cached keys/values of every conversation the person wrote in."""
        assert self.store is not None and self.engine is not None, "install() first"
        member = Member(platform, user_id).resolved(self.store)
        if member.user_id is not None:
            # The manager clears the conversation /forgetme was sent in (the person's newest message) itself.
            rows = self.store.db.execute(
                "select conversation_id, max(id) from messages where user_id = ? group by conversation_id "
                "order by max(id)",
                [member.user_id],
            ).fetchall()
            for conversation_id, _ in rows[:-1]:
                self.engine.forget_conversation(self.store.conversation_key(conversation_id).session_id)
        changed = forget_member(self.store, member, include_core=False)
        audit.record(self.store, "deleted-user", "privacy.forget", "deleted-user", after={"tables": changed})
        return sum(changed.values())

    async def _cmd_export(self, turn: TurnContext, args: str) -> RouteReply | str:
        assert self.store is not None
        message = turn.message
        if not message.is_direct:
            return texts.text("export_private_only")
        member = Member(message.platform, message.author.user_id)
        features = self._context.features if self._context is not None else []
        data = await asyncio.to_thread(export_json, self.store, member, features)
        audit.record(self.store, member.actor, "privacy.export", member.actor, after={"bytes": len(data)})
        document = OutgoingDocument(f"socialbot-export-{message.platform}-{message.author.user_id}.json", data)
        side = OutgoingMessage(message.conversation, texts.text("export_caption"), document=document, kind="notice")
        # The file and its caption are the whole answer: the turn itself sends nothing else.
        return RouteReply("", "command:export", gate=False, side_messages=(side,))
