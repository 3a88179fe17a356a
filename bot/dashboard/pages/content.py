"""Drafts and schedule: ask the model for drafts, edit, approve or reject them, schedule them, see a
two-week calendar of planned posts and what was posted, missed or failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.dashboard.services import ACTOR
from bot.dashboard.web import SERVICES_KEY, form_text, notify_and_redirect, path_id, render
from bot.scheduling import SchedulingError
from bot.scheduling.targets import format_target, parse_target
from bot.scheduling.timing import next_at_or_after, zone
from bot.suggest import SuggestError
from bot.suggest.drafts import APPROVED, DRAFT, POSTED, REJECTED, SCHEDULED

if TYPE_CHECKING:
    from bot.scheduling.feature import SchedulingFeature
    from bot.scheduling.service import PostingService

routes = web.RouteTableDef()
CALENDAR_DAYS = 14
SLOTS_PER_SCHEDULE = 60
HISTORY_SQL = (
    "select p.id, p.slot_time, p.state, p.attempts, p.last_error, p.sent_at, s.text, s.platform, s.chat_id, "
    "s.thread_id, s.id as schedule_id from posts p join schedules s on s.id = p.schedule_id "
    "where p.state != 'pending' order by p.slot_time desc limit 30"
)


@dataclass(frozen=True)
class PlannedPost:
    """One future slot of a schedule, for the calendar."""

    at: datetime
    schedule_id: int
    target: str
    text: str


def _feature(request: web.Request) -> tuple[SchedulingFeature, PostingService]:
    feature = request.app[SERVICES_KEY].scheduling
    if feature is None or feature.service is None or request.app[SERVICES_KEY].suggestions is None:
        raise web.HTTPNotFound(text="The scheduling feature is not installed in this bot.")
    return feature, feature.service


def calendar(
    service: PostingService, today: date, days: int = CALENDAR_DAYS
) -> list[list[tuple[date, list[PlannedPost]]]]:
    """Weeks (Monday first) of days from this week's Monday, each day with its planned posts (local time)."""
    timezone = zone(service.settings.timezone)
    start = today - timedelta(days=today.weekday())
    end = start + timedelta(days=days + 6 - (days - 1) % 7)
    horizon = datetime.combine(end, datetime.min.time(), timezone).astimezone(UTC)
    by_day: dict[date, list[PlannedPost]] = {}
    for schedule in service.outbox.active_schedules():
        moment = service.next_slot(schedule)
        trigger = service.trigger_for(schedule)
        for _ in range(SLOTS_PER_SCHEDULE):
            if moment is None or moment >= horizon:
                break
            local = moment.astimezone(timezone)
            by_day.setdefault(local.date(), []).append(
                PlannedPost(local, schedule.id, format_target(schedule.target), schedule.text)
            )
            moment = next_at_or_after(trigger, moment + timedelta(microseconds=1))
    weeks = []
    day = start
    while day < end:
        weeks.append(
            [
                (
                    day + timedelta(days=offset),
                    sorted(by_day.get(day + timedelta(days=offset), []), key=lambda post: post.at),
                )
                for offset in range(7)
            ]
        )
        day += timedelta(days=7)
    return weeks


@routes.get("/content")
async def content_page(request: web.Request) -> web.StreamResponse:
    _, service = _feature(request)
    services = request.app[SERVICES_KEY]
    today = datetime.now(zone(service.settings.timezone)).date()
    return render(
        request,
        "content.html",
        drafts=service.drafts.list((DRAFT, APPROVED, SCHEDULED), limit=50),
        finished=service.drafts.list((POSTED, REJECTED), limit=10),
        schedules=service.statuses(limit=30),
        weeks=calendar(service, today),
        today=today,
        history=list(services.store.db.query(HISTORY_SQL)),
        timezone=service.settings.timezone,
        max_count=services.suggestions.settings.max_count if services.suggestions else 5,
        format_target=format_target,
    )


def _done(request: web.Request, text: str) -> web.HTTPSeeOther:
    return notify_and_redirect(request, "/content", text)


def _failed(request: web.Request, exc: Exception) -> web.HTTPSeeOther:
    return notify_and_redirect(request, "/content", f"{str(exc)[:1].upper()}{str(exc)[1:]}.", "error")


@routes.post("/content/suggest")
async def suggest(request: web.Request) -> web.StreamResponse:
    _feature(request)
    suggestions = request.app[SERVICES_KEY].suggestions
    assert suggestions is not None
    services = request.app[SERVICES_KEY]
    topic = await form_text(request, "topic", limit=300)
    count_text = await form_text(request, "count", limit=3)
    try:
        count = suggestions.parse_count(count_text or None)
        await services.ensure_engine()
        result = await suggestions.suggest(topic, count, created_by=ACTOR)
    except SuggestError as exc:
        raise _failed(request, exc) from None
    ids = [draft.id for draft in result.drafts]
    services.record("drafts.suggest", topic, None, {"drafts": ids})
    raise _done(request, f"{len(ids)} new draft(s) about '{topic}'." if ids else "No usable draft came out; try again.")


async def _draft_action(request: web.Request, action: str) -> dict[str, Any]:
    _, service = _feature(request)
    draft_id = path_id(request)
    try:
        before = service.drafts.get(draft_id)
        if action == "edit":
            after = service.drafts.edit(draft_id, await form_text(request, "text", limit=4000))
        elif action == "approve":
            after = service.drafts.approve(draft_id)
        else:
            after = service.drafts.reject(draft_id)
    except SuggestError as exc:
        raise _failed(request, exc) from None
    request.app[SERVICES_KEY].record(f"drafts.{action}", f"draft:{draft_id}", before.as_dict(), after.as_dict())
    return after.as_dict()


@routes.post("/drafts/{id}/{action:edit|approve|reject}")
async def draft_action(request: web.Request) -> web.StreamResponse:
    action = request.match_info["action"]
    draft = await _draft_action(request, action)
    done = {"edit": "saved", "approve": "approved", "reject": "rejected"}[action]
    raise _done(request, f"Draft #{draft['id']} {done}.")


@routes.post("/drafts/{id}/schedule")
async def schedule(request: web.Request) -> web.StreamResponse:
    _, service = _feature(request)
    draft_id = path_id(request)
    target_text = await form_text(request, "target", limit=200)
    when = await form_text(request, "when", limit=200)
    try:
        target = parse_target(target_text)
        planned = service.schedule(draft_id, target, when, created_by=ACTOR)
    except (SchedulingError, SuggestError) as exc:
        raise _failed(request, exc) from None
    request.app[SERVICES_KEY].record(
        "schedule.add",
        f"schedule:{planned.id}",
        None,
        {"draft": draft_id, "target": format_target(target), "when": planned.timing.describe()},
    )
    raise _done(request, f"Draft #{draft_id} scheduled ({planned.timing.describe()}) to {format_target(target)}.")


@routes.post("/schedules/{id}/cancel")
async def cancel(request: web.Request) -> web.StreamResponse:
    _, service = _feature(request)
    schedule_id = path_id(request)
    try:
        cancelled = service.cancel(schedule_id)
    except SchedulingError as exc:
        raise _failed(request, exc) from None
    request.app[SERVICES_KEY].record("schedule.cancel", f"schedule:{schedule_id}", None, {"status": cancelled.status})
    raise _done(request, f"Schedule #{schedule_id} cancelled.")
