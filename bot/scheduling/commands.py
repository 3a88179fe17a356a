"""`/schedule` in chat (admins only): plan a post, list schedules, cancel one."""

from __future__ import annotations

import re
import shlex
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.routing import Command, TurnContext
from bot.scheduling import SchedulingError
from bot.scheduling.outbox import Schedule
from bot.scheduling.service import PostingService, ScheduleStatus
from bot.scheduling.targets import format_target, parse_target
from bot.scheduling.timing import WHEN_HELP, from_db_time

SCHEDULE_USAGE = (
    'Usage: /schedule <draft-id | "text"> <here | platform:chat_id> <when>\n'
    "       /schedule list\n"
    "       /schedule cancel <id>\n" + WHEN_HELP
)
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"'})
_DRAFT_ID = re.compile(r"^#?(\d{1,9})$")


def local_time(moment: datetime | None, timezone: str) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def describe_when(schedule: Schedule) -> str:
    """`once at 2030-03-04 11:00 CET`, `every 2h` or `cron '0 9 * * mon'`, in the schedule's timezone."""
    timing = schedule.timing
    if timing.kind == "once":
        return f"once at {local_time(from_db_time(timing.spec), schedule.timezone)}"
    return timing.describe()


def format_status(status: ScheduleStatus) -> str:
    """One schedule in a few lines: what, where, when next, and its latest posts' states."""
    schedule = status.schedule
    timing = schedule.timing
    when = describe_when(schedule)
    source = f"draft #{schedule.draft_id}" if schedule.draft_id is not None else "text"
    preview = " ".join(schedule.text.split())
    preview = preview if len(preview) <= 60 else preview[:59] + "…"
    lines = [f"#{schedule.id} [{schedule.status}] {when} -> {format_target(schedule.target)} ({source}): {preview}"]
    if status.next_slot is not None and timing.kind != "once":
        lines.append(f"   next: {local_time(status.next_slot, schedule.timezone)}")
    for post in status.recent_posts:
        line = f"   post #{post.id} {local_time(post.slot_time, schedule.timezone)}: {post.state}"
        if post.coalesced:
            line += f" (caught up {post.coalesced + 1} missed runs)"
        if post.state not in ("sent", "cancelled") and post.last_error:
            line += f" - {post.last_error}"
        lines.append(line)
    return "\n".join(lines)


def split_schedule_args(args: str) -> tuple[str | int, str, str]:
    """(draft id or text, target, when) from the arguments of `/schedule`."""
    try:
        tokens = shlex.split(args.translate(_QUOTES))
    except ValueError:
        raise SchedulingError("a quote is not closed") from None
    if len(tokens) < 3:
        raise SchedulingError("missing arguments")
    match = _DRAFT_ID.match(tokens[0])
    source: str | int = int(match.group(1)) if match else tokens[0]
    return source, tokens[1], " ".join(tokens[2:])


class ScheduleCommands:
    """The chat side of scheduling; every answer is a short fixed text or a listing."""

    def __init__(self, service: PostingService) -> None:
        self.service = service

    def commands(self) -> list[Command]:
        return [
            Command(
                "schedule",
                "plan a post, list or cancel scheduled posts",
                self.schedule,
                admin_only=True,
                usage=SCHEDULE_USAGE,
            )
        ]

    async def schedule(self, turn: TurnContext, args: str) -> str:
        head, _, rest = args.strip().partition(" ")
        try:
            if not head or head.lower() == "help":
                return SCHEDULE_USAGE
            if head.lower() == "list":
                statuses = self.service.statuses()
                if not statuses:
                    return "No scheduled posts."
                return "\n".join(format_status(status) for status in statuses)
            if head.lower() == "cancel":
                match = _DRAFT_ID.match(rest.strip())
                if not match:
                    return "Usage: /schedule cancel <id>"
                cancelled = self.service.cancel(int(match.group(1)))
                return f"Schedule #{cancelled.id} cancelled."
            try:
                source, target_text, when = split_schedule_args(args)
            except SchedulingError as exc:
                return f"Cannot schedule: {exc}.\n{SCHEDULE_USAGE}"
            target = parse_target(target_text, turn.message.conversation)
            author = f"{turn.message.platform}:{turn.message.author.user_id}"
            schedule = self.service.schedule(source, target, when, created_by=author)
        except SchedulingError as exc:
            return f"{exc}."
        first = self.service.next_slot(schedule)
        return (
            f"Scheduled #{schedule.id}: {describe_when(schedule)} to {format_target(schedule.target)}; "
            f"first post {local_time(first, schedule.timezone)}."
        )
