"""Planning and delivering scheduled posts from the outbox: each slot claimed once, sent at most once.

`run_due()` is idempotent and cheap: APScheduler calls it when a schedule fires and on a periodic sweep, and
tests call it after moving a `ManualClock`. `recover()` runs once at start, before anything is sent, to deal
with posts a crash left in `sending`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.triggers.base import BaseTrigger

from bot.delivery import DeliveryError, Sender
from bot.messages import ConversationKey, OutgoingMessage
from bot.scheduling import SchedulingError
from bot.scheduling.clock import Clock
from bot.scheduling.outbox import (
    DONE,
    FAILED,
    MISSED,
    PENDING,
    SENDING,
    UNKNOWN,
    Outbox,
    Post,
    Schedule,
)
from bot.scheduling.timing import (
    ONE_MICROSECOND,
    build_trigger,
    latest_due_slot,
    next_at_or_after,
    parse_when,
    to_db_time,
    zone,
)
from bot.suggest import SuggestError
from bot.suggest.drafts import DraftStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SchedulerSettings:
    """The scheduler's knobs, from the `[scheduler]` config section."""

    timezone: str = "UTC"
    grace_period_s: float = 900.0
    max_retries: int = 5
    retry_base_delay_s: float = 30.0
    retry_max_delay_s: float = 1800.0
    poll_interval_s: float = 30.0
    staff_platform: str = ""
    staff_chat_id: str = ""
    idempotent_platforms: tuple[str, ...] = ("discord",)
    idempotency_window_s: float = 300.0


@dataclass(frozen=True)
class ScheduleStatus:
    """A schedule with its next slot and its latest posts, for `schedule list`."""

    schedule: Schedule
    next_slot: datetime | None
    recent_posts: tuple[Post, ...]


class PostingService:
    """Owns the scheduled-posting state machine; platform-agnostic, posting through registered senders."""

    def __init__(
        self,
        outbox: Outbox,
        drafts: DraftStore,
        senders: Mapping[str, Sender],
        clock: Clock,
        settings: SchedulerSettings,
        on_schedules_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self.outbox = outbox
        self.drafts = drafts
        self.senders = senders
        self.clock = clock
        self.settings = settings
        self.timezone = zone(settings.timezone)
        self.on_schedules_changed = on_schedules_changed
        self._lock = asyncio.Lock()
        self._stopped = False

    # schedules ----------------------------------------------------------------------------------------

    def schedule(self, source: str | int, target: ConversationKey, when: str, created_by: str = "") -> Schedule:
        """Plan a post of draft #`source` (an int; it must be approved) or of the literal text `source`."""
        now = self.clock.now()
        timing = parse_when(when, self.timezone, now)
        if not target.platform or not target.chat_id:
            raise SchedulingError("the target needs a platform and a chat id, like telegram:-100123")
        draft_id: int | None = None
        if isinstance(source, int):
            try:
                draft = self.drafts.get(source)
                if draft.status not in ("approved", "scheduled"):
                    raise SchedulingError(f"draft #{source} is {draft.status}; approve it before scheduling")
                self.drafts.mark_scheduled(source)
            except SuggestError as exc:
                raise SchedulingError(str(exc)) from None
            text, draft_id = draft.text, draft.id
        else:
            text = source.strip()
        if not text:
            raise SchedulingError("there is nothing to post: the text is empty")
        schedule = self.outbox.add_schedule(text, target, timing, self.settings.timezone, now, draft_id, created_by)
        log.info("schedule %d added: %s to %s", schedule.id, timing.describe(), target.session_id)
        self.on_schedules_changed()
        return schedule

    def cancel(self, schedule_id: int) -> Schedule:
        schedule = self.outbox.find_schedule(schedule_id)
        if schedule is None:
            raise SchedulingError(f"there is no schedule #{schedule_id}")
        if not self.outbox.cancel_schedule(schedule_id, self.clock.now()):
            raise SchedulingError(f"schedule #{schedule_id} is {schedule.status}; nothing to cancel")
        if schedule.draft_id is not None and not self.outbox.active_schedules_for_draft(schedule.draft_id):
            self.drafts.unschedule(schedule.draft_id)
        log.info("schedule %d cancelled", schedule_id)
        self.on_schedules_changed()
        return self.outbox.get_schedule(schedule_id)

    def next_slot(self, schedule: Schedule) -> datetime | None:
        if schedule.status != "active":
            return None
        last = self.outbox.last_slot(schedule.id)
        start = last + ONE_MICROSECOND if last else schedule.created_at
        return next_at_or_after(self.trigger_for(schedule), start)

    def statuses(self, limit: int = 20) -> list[ScheduleStatus]:
        return [
            ScheduleStatus(schedule, self.next_slot(schedule), tuple(self.outbox.posts_for(schedule.id, 3)))
            for schedule in self.outbox.recent_schedules(limit)
        ]

    def trigger_for(self, schedule: Schedule) -> BaseTrigger:
        return build_trigger(schedule.timing, zone(schedule.timezone), schedule.created_at)

    # running ------------------------------------------------------------------------------------------

    async def recover(self) -> None:
        """Resolve posts a crash left in `sending`: resend with the same key where the platform dedupes
        (and the key is still fresh), otherwise mark them unknown and tell the admins."""
        async with self._lock:
            now = self.clock.now()
            for post in self.outbox.posts_in(SENDING):
                schedule = self.outbox.get_schedule(post.schedule_id)
                age = (now - post.updated_at).total_seconds() if post.updated_at else float("inf")
                if (
                    schedule.target.platform in self.settings.idempotent_platforms
                    and age <= self.settings.idempotency_window_s
                ):
                    self.outbox.transition(
                        post.id,
                        SENDING,
                        PENDING,
                        now,
                        last_error="interrupted while sending; resending with the same key",
                    )
                    log.warning(
                        "post %d was interrupted while sending; resending with key %s",
                        post.id,
                        post.idempotency_key,
                        extra={"session": schedule.target.session_id},
                    )
                else:
                    self.outbox.transition(
                        post.id,
                        SENDING,
                        UNKNOWN,
                        now,
                        last_error="interrupted while sending: it may or may not have been posted; not re-sent",
                    )
                    log.warning(
                        "post %d was interrupted while sending; not re-sent, admins told",
                        post.id,
                        extra={"session": schedule.target.session_id},
                    )

    async def run_due(self) -> None:
        """Claim the slots that fell due, deliver what is owed, report what went wrong. Safe to call often."""
        if self._stopped:
            return
        async with self._lock:
            if self._stopped:
                return
            self._plan(self.clock.now())
            await self._deliver(self.clock.now())
            await self._report(self.clock.now())

    async def stop(self) -> None:
        """Wait for a run in progress (so no send is cut in half), then refuse new runs."""
        async with self._lock:
            self._stopped = True

    def _plan(self, now: datetime) -> None:
        grace = timedelta(seconds=self.settings.grace_period_s)
        for schedule in self.outbox.active_schedules():
            try:
                trigger = self.trigger_for(schedule)
            except SchedulingError:
                log.exception("schedule %d has an invalid timing; it is skipped", schedule.id)
                continue
            last = self.outbox.last_slot(schedule.id)
            due = latest_due_slot(trigger, last + ONE_MICROSECOND if last else schedule.created_at, now)
            if due is not None:
                late = now - due.slot > grace
                error = f"the bot was not running within {self.settings.grace_period_s:.0f}s of the slot"
                post = self.outbox.claim_slot(
                    schedule.id,
                    due.slot,
                    MISSED if late else PENDING,
                    now,
                    coalesced=due.count - 1,
                    last_error=error if late else "",
                )
                if post is not None and due.count > 1:
                    log.info(
                        "schedule %d: %d missed runs coalesced into one",
                        schedule.id,
                        due.count,
                        extra={"session": schedule.target.session_id},
                    )
                if post is not None and late:
                    log.warning(
                        "schedule %d: slot %s missed",
                        schedule.id,
                        to_db_time(due.slot),
                        extra={"session": schedule.target.session_id},
                    )
            if schedule.timing.kind == "once" and self.outbox.last_slot(schedule.id) is not None:
                self.outbox.set_schedule_status(schedule.id, DONE, now)

    async def _deliver(self, now: datetime) -> None:
        grace = timedelta(seconds=self.settings.grace_period_s)
        for post in self.outbox.deliverable(now):
            schedule = self.outbox.get_schedule(post.schedule_id)
            session = schedule.target.session_id
            sender = self.senders.get(schedule.target.platform)
            if post.attempts == 0 and now - post.slot_time > grace:
                reason = (
                    f"{schedule.target.platform} was not connected" if sender is None else "the bot was not running"
                ) + f" within {self.settings.grace_period_s:.0f}s of the slot"
                if self.outbox.transition(post.id, PENDING, MISSED, now, last_error=reason):
                    log.warning("post %d missed: %s", post.id, reason, extra={"session": session})
                continue
            if sender is None:
                self.outbox.note_error(post.id, f"{schedule.target.platform} is not connected; waiting", now)
                continue
            if not self.outbox.start_sending(post.id, now):
                continue
            await self._send(post, schedule, sender)

    async def _send(self, post: Post, schedule: Schedule, sender: Sender) -> None:
        session = schedule.target.session_id
        message = OutgoingMessage(
            schedule.target,
            schedule.text,
            kind="post",
            idempotency_key=post.idempotency_key,
            delivered_chars=post.delivered_chars,
        )
        attempt = post.attempts + 1
        try:
            ids = await sender.send(message)
        except DeliveryError as exc:
            self._failed(post, attempt, str(exc), exc.retryable, session, exc.delivered_chars)
            return
        except Exception as exc:
            log.exception("sender raised while posting %d", post.id, extra={"session": session})
            self._failed(post, attempt, f"{type(exc).__name__}: {exc}", True, session)
            return
        self.outbox.mark_sent(post.id, [str(value) for value in ids], self.clock.now())
        log.info("post %d sent (%s)", post.id, ",".join(str(value) for value in ids), extra={"session": session})
        if schedule.draft_id is not None and schedule.timing.kind == "once":
            self.drafts.mark_posted(schedule.draft_id)

    def _failed(
        self, post: Post, attempt: int, error: str, retryable: bool, session: str, delivered_chars: int = 0
    ) -> None:
        now = self.clock.now()
        delivered = max(post.delivered_chars, delivered_chars)
        if retryable and attempt <= self.settings.max_retries:
            delay = min(self.settings.retry_max_delay_s, self.settings.retry_base_delay_s * 2 ** (attempt - 1))
            self.outbox.transition(
                post.id,
                SENDING,
                PENDING,
                now,
                last_error=error[:500],
                not_before=to_db_time(now + timedelta(seconds=delay)),
                delivered_chars=delivered,
            )
            log.warning(
                "post %d failed (attempt %d), retrying in %.0fs: %s",
                post.id,
                attempt,
                delay,
                error,
                extra={"session": session},
            )
        else:
            self.outbox.transition(post.id, SENDING, FAILED, now, last_error=error[:500], delivered_chars=delivered)
            log.error(
                "post %d failed after %d attempt(s), giving up: %s", post.id, attempt, error, extra={"session": session}
            )

    async def _report(self, now: datetime) -> None:
        staff = ConversationKey(self.settings.staff_platform, self.settings.staff_chat_id)
        for post in self.outbox.unreported():
            text = report_text(post, self.outbox.get_schedule(post.schedule_id))
            if not staff.platform or not staff.chat_id:
                log.warning("%s (no staff chat configured: [scheduler] staff_platform/staff_chat_id)", text)
                self.outbox.mark_reported(post.id, now)
                continue
            sender = self.senders.get(staff.platform)
            if sender is None:
                continue  # told once the staff platform connects
            try:
                await sender.send(OutgoingMessage(staff, text, kind="staff"))
            except Exception as exc:
                log.warning("could not report post %d to staff: %s", post.id, exc)
                continue
            log.warning("%s (reported to staff)", text)
            self.outbox.mark_reported(post.id, now)


def report_text(post: Post, schedule: Schedule) -> str:
    """The staff notice for a post that needs a person's attention."""
    where = schedule.target.session_id.rstrip(":")
    when = post.slot_time.strftime("%Y-%m-%d %H:%M UTC")
    headline = {
        MISSED: "was missed",
        UNKNOWN: "may or may not have been posted (the bot stopped while sending); check the chat, it was NOT re-sent",
        FAILED: f"failed after {post.attempts} attempt(s)",
    }.get(post.state, post.state)
    detail = f": {post.last_error}" if post.last_error and post.state != UNKNOWN else ""
    return f"Scheduled post #{post.id} (schedule #{schedule.id}, {when}, to {where}) {headline}{detail}"
