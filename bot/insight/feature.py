"""The insight feature: scores every incoming message's sentiment in the background, watches for alerts and
answers `/insights` for admins.

A guard route that never answers only wakes the background worker when a message arrives; the worker reads
unscored messages from the database (so nothing is missed across a restart), scores them in a thread, and
every `check_interval_s` runs the alert checks and posts what they find to the staff chat. The weekly report
(text, then its charts as images) is posted by an APScheduler job (`bot.insight.weekly`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bot.insight.alerts import Alert, AlertMonitor
from bot.insight.commands import InsightCommands, last_weekly_slot
from bot.insight.repository import InsightRepository
from bot.insight.scoring import SentimentScorer
from bot.insight.sentiment import SentimentModel, shared_sentiment_model
from bot.insight.settings import InsightSection
from bot.insight.weekly import WEEKLY_GRACE, WeeklyReportJob, build_weekly_report
from bot.messages import ConversationKey, OutgoingMessage
from bot.plugin import GUARD_SCORING, BaseFeature, FeatureContext
from bot.routing import RouteReply, TurnContext

log = logging.getLogger(__name__)

SCORING_POLL_S = 5.0
STOP_WAIT_S = 10.0
WEEKLY_REPORT = "weekly_report"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ScoringTap:
    """A guard route that answers nothing: it only tells the worker a message is waiting to be scored."""

    name = "insight"
    guards_commands = True

    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake

    async def respond(self, turn: TurnContext) -> RouteReply | None:
        self._wake()
        return None


class InsightFeature(BaseFeature):
    """Community insight plugged into a BotApp: sentiment for every message, alerts, `/insights`."""

    name = "insight"

    def __init__(
        self,
        settings: InsightSection | None = None,
        model_loader: Callable[[], SentimentModel] = shared_sentiment_model,
        now: Callable[[], datetime] = _utc_now,
        run_worker: bool = True,
    ) -> None:
        self.settings = settings or InsightSection()
        self.model_loader = model_loader
        self.now = now
        # Tests drive `score_now()` and `check_alerts()` themselves; the bot runs the worker.
        self.run_worker = run_worker
        self.repository: InsightRepository | None = None
        self.scorer: SentimentScorer | None = None
        self.monitor: AlertMonitor | None = None
        self._app: FeatureContext | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.weekly_job: WeeklyReportJob | None = None

    @property
    def staff(self) -> ConversationKey | None:
        if self.settings.staff_platform and self.settings.staff_chat_id:
            return ConversationKey(self.settings.staff_platform, self.settings.staff_chat_id)
        return None

    def install(self, context: FeatureContext) -> None:
        self._app = context
        self.repository = InsightRepository(context.store)
        self.scorer = SentimentScorer(self.repository, self.model_loader)
        self.monitor = AlertMonitor(context.store, self.settings, embed=_shared_embed)
        if self.settings.enabled:
            context.add_route(ScoringTap(self._wake.set), GUARD_SCORING, stage="guard", stops=False)
        for command in InsightCommands(context.store, self.settings, self.now).commands():
            context.add_command(command)

    async def start(self) -> None:
        if self.settings.enabled and self.run_worker:
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._run())
        if self.settings.enabled and self.settings.weekly_report and self.staff is not None:
            self.weekly_job = WeeklyReportJob(self.settings.weekly_report, self.post_weekly_report)
            self.weekly_job.start()

    async def stop(self) -> None:
        """Let a scoring pass in progress finish (its thread uses the store, which closes next), then end."""
        self._stopping = True
        self._wake.set()
        if self.weekly_job is not None:
            self.weekly_job.stop()
            self.weekly_job = None
        if self._task is not None:
            try:
                async with asyncio.timeout(STOP_WAIT_S):
                    await asyncio.shield(self._task)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None

    async def score_now(self) -> int:
        """Score every waiting message (in a worker thread); returns how many were stored."""
        assert self.scorer is not None, "install() first"
        return await asyncio.to_thread(self.scorer.score_pending)

    async def check_alerts(self) -> list[Alert]:
        """Run the alert checks at `now()` and post each alert to the staff chat (or log it when none)."""
        assert self.monitor is not None and self._app is not None, "install() first"
        alerts = await asyncio.to_thread(self.monitor.check, self.now())
        for alert in alerts:
            log.warning("insight alert %s: %s", alert.kind, alert.summary)
            staff = self.staff
            if staff is not None:
                key = f"insight-{alert.kind}-{alert.conversation_id}-{self.now().strftime('%Y%m%d%H%M')}"
                await self._app.deliver(OutgoingMessage(staff, alert.render(), kind="staff", idempotency_key=key))
        return alerts

    async def post_weekly_report(self) -> bool:
        """Post the weekly summary, then each chart as an image, to the staff chat when its slot ('mon 09:00')
        passed in the last hour and it was not posted for that slot yet (recorded like an alert, so a restart
        does not post it twice; each post has its own idempotency key, so a retried delivery is not doubled)."""
        assert self.repository is not None and self._app is not None, "install() first"
        now = self.now()
        slot = last_weekly_slot(self.settings.weekly_report, now)
        staff = self.staff
        if slot is None or staff is None or now - slot > WEEKLY_GRACE:
            return False
        last = self.repository.last_alert_at(WEEKLY_REPORT, 0)
        if last is not None and datetime.fromisoformat(last) >= slot:
            return False
        weekly = await asyncio.to_thread(build_weekly_report, self._app.store, self.settings, now)
        self.repository.record_alert(WEEKLY_REPORT, 0, now.isoformat(), weekly.text.splitlines()[0], [])
        key = f"insight-weekly-{slot.strftime('%Y%m%d%H%M')}"
        await self._app.deliver(OutgoingMessage(staff, weekly.text, kind="staff", idempotency_key=key))
        for chart in weekly.charts:
            chart_key = f"{key}-{chart.image.filename}"
            message = OutgoingMessage(
                staff, chart.caption, kind="staff", idempotency_key=chart_key, document=chart.image
            )
            await self._app.deliver(message)
        return True

    def forget_user(self, platform: str, user_id: str) -> int:
        """/forgetme: the member's sentiment rows go (their messages go with the core store's deletion)."""
        assert self.repository is not None, "install() first"
        return self.repository.forget_user(platform, user_id)

    def export_user(self, platform: str, user_id: str) -> list[dict[str, Any]]:
        """What insight holds about one member, for the privacy export."""
        assert self.repository is not None, "install() first"
        return self.repository.export_user(platform, user_id)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_check = loop.time() + self.settings.check_interval_s
        while not self._stopping:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that lands as the event fires.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SCORING_POLL_S):
                    await self._wake.wait()
            self._wake.clear()
            if self._stopping:
                break
            try:
                await self.score_now()
                if loop.time() >= next_check:
                    next_check = loop.time() + self.settings.check_interval_s
                    await self.check_alerts()
            except Exception:
                log.exception("insight worker failed; retrying on the next message")


def _shared_embed(texts: Sequence[str]) -> NDArray[np.float32]:
    """The bundled MiniLM, loaded on first use (only a burst of questions needs it)."""
    from bot.embeddings import shared_encoder

    return shared_encoder().encode(list(texts))
