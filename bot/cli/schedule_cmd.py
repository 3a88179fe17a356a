"""`socialbot suggest`, `socialbot drafts ...` and `socialbot schedule ...`: the CLI side of issue 8.

Drafts and schedules only need the database, so those commands open the store and nothing else; a running
bot picks up schedules added here on its next outbox sweep. Only `suggest` loads the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from bot.cli.main import CliContext, fail, print_json, run_async
from bot.scheduling import SchedulingError
from bot.scheduling.clock import SystemClock
from bot.scheduling.commands import format_status
from bot.scheduling.feature import scheduler_settings
from bot.scheduling.outbox import Outbox
from bot.scheduling.service import PostingService, ScheduleStatus
from bot.scheduling.targets import format_target, parse_target
from bot.scheduling.timing import to_db_time
from bot.store import Store, StoreError
from bot.suggest import SuggestError
from bot.suggest.commands import format_draft
from bot.suggest.drafts import STATUSES, DraftStore
from bot.suggest.feature import suggest_settings, voice
from bot.suggest.generator import SuggestionService


@contextmanager
def open_store(ctx: CliContext) -> Iterator[Store]:
    try:
        store = Store.open(ctx.config().database_path)
    except StoreError as exc:
        fail(f"database error: {exc}")
    try:
        yield store
    finally:
        store.close()


@contextmanager
def posting_service(ctx: CliContext) -> Iterator[PostingService]:
    with open_store(ctx) as store:
        yield PostingService(Outbox(store), DraftStore(store), {}, SystemClock(), scheduler_settings(ctx.config()))


@click.command("suggest")
@click.argument("topic")
@click.option("--count", "-n", type=int, default=3, show_default=True, help="How many distinct drafts.")
@click.option("--json", "as_json", is_flag=True, help="Print the drafts as JSON.")
@click.pass_obj
def suggest(ctx: CliContext, topic: str, count: int, as_json: bool) -> None:
    """Draft COUNT distinct posts about TOPIC with the model; they are stored for review as `draft`."""
    config = ctx.config()
    app = ctx.build_app(features=[])

    async def run() -> Any:
        await app.engine.start()
        try:
            service = SuggestionService(
                app.engine, app.gate, app.prompts, app.store, suggest_settings(config), voice(config)
            )
            return await service.suggest(topic, service.parse_count(count), created_by="cli")
        finally:
            await app.stop()

    try:
        result = run_async(run())
    except SuggestError as exc:
        fail(f"suggest: {exc}")
    if as_json:
        print_json(
            {
                "topic": topic,
                "recent_topics": list(result.recent_topics),
                "discarded": result.discarded,
                "drafts": [draft.as_dict() for draft in result.drafts],
            }
        )
        return
    if result.recent_topics:
        click.echo(f"recent topics: {', '.join(result.recent_topics)}")
    for draft in result.drafts:
        click.echo(format_draft(draft, full=True) + "\n")


@click.group("drafts")
def drafts_group() -> None:
    """Review drafted posts: list, show, edit, approve, reject, delete."""


@drafts_group.command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(STATUSES),
    help="Only drafts in this status (repeatable; default: draft, approved, scheduled).",
)
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def drafts_list(ctx: CliContext, statuses: tuple[str, ...], limit: int, as_json: bool) -> None:
    """List drafts, newest first."""
    with open_store(ctx) as store:
        drafts = DraftStore(store).list(statuses or ("draft", "approved", "scheduled"), limit)
    if as_json:
        print_json([draft.as_dict() for draft in drafts])
        return
    for draft in drafts:
        click.echo(format_draft(draft) + "\n")
    if not drafts:
        click.echo("no drafts")


def _draft_action(ctx: CliContext, draft_id: int, action: str, text: str = "", as_json: bool = False) -> None:
    with open_store(ctx) as store:
        drafts = DraftStore(store)
        try:
            if action == "show":
                draft = drafts.get(draft_id)
            elif action == "edit":
                draft = drafts.edit(draft_id, text)
            elif action == "approve":
                draft = drafts.approve(draft_id)
            elif action == "delete":
                drafts.delete(draft_id)
                click.echo(f"draft #{draft_id} deleted")
                return
            else:
                draft = drafts.reject(draft_id)
        except SuggestError as exc:
            fail(str(exc))
    if as_json:
        print_json(draft.as_dict())
    else:
        click.echo(format_draft(draft, full=True))


@drafts_group.command("show")
@click.argument("draft_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def drafts_show(ctx: CliContext, draft_id: int, as_json: bool) -> None:
    """Print one draft in full."""
    _draft_action(ctx, draft_id, "show", as_json=as_json)


@drafts_group.command("edit")
@click.argument("draft_id", type=int)
@click.argument("text")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def drafts_edit(ctx: CliContext, draft_id: int, text: str, as_json: bool) -> None:
    """Replace a draft's text (an approved draft must be approved again)."""
    _draft_action(ctx, draft_id, "edit", text, as_json)


@drafts_group.command("approve")
@click.argument("draft_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def drafts_approve(ctx: CliContext, draft_id: int, as_json: bool) -> None:
    """Approve a draft so it can be scheduled."""
    _draft_action(ctx, draft_id, "approve", as_json=as_json)


@drafts_group.command("reject")
@click.argument("draft_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def drafts_reject(ctx: CliContext, draft_id: int, as_json: bool) -> None:
    """Reject a draft."""
    _draft_action(ctx, draft_id, "reject", as_json=as_json)


@drafts_group.command("delete")
@click.argument("draft_id", type=int)
@click.pass_obj
def drafts_delete(ctx: CliContext, draft_id: int) -> None:
    """Delete a draft no active schedule uses."""
    _draft_action(ctx, draft_id, "delete")


@click.group("schedule")
def schedule_group() -> None:
    """Plan posts to a chat at a time or on a recurrence; list and cancel them."""


def status_dict(status: ScheduleStatus) -> dict[str, Any]:
    schedule = status.schedule
    return {
        "id": schedule.id,
        "status": schedule.status,
        "target": format_target(schedule.target),
        "kind": schedule.timing.kind,
        "spec": schedule.timing.spec,
        "timezone": schedule.timezone,
        "draft_id": schedule.draft_id,
        "text": schedule.text,
        "next_slot": to_db_time(status.next_slot) if status.next_slot else None,
        "posts": [
            {
                "id": post.id,
                "slot": to_db_time(post.slot_time),
                "state": post.state,
                "attempts": post.attempts,
                "error": post.last_error,
                "platform_message_ids": list(post.platform_message_ids),
                "coalesced": post.coalesced,
            }
            for post in status.recent_posts
        ],
    }


@schedule_group.command("add")
@click.argument("source")
@click.option("--to", "target", required=True, help="platform:chat_id[:thread_id], e.g. telegram:-100123.")
@click.option(
    "--when",
    "when",
    required=True,
    help="'now', 'in 10m', '2025-06-01 09:00', 'every 2h', 'daily 09:00' or 'cron 0 9 * * mon'.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def schedule_add(ctx: CliContext, source: str, target: str, when: str, as_json: bool) -> None:
    """Schedule SOURCE: an approved draft's id (e.g. 12 or #12) or a literal text to post."""
    draft_source: str | int = int(source.lstrip("#")) if source.lstrip("#").isdigit() else source
    with posting_service(ctx) as service:
        try:
            schedule = service.schedule(draft_source, parse_target(target), when, created_by="cli")
        except SchedulingError as exc:
            fail(f"schedule: {exc}")
        status = ScheduleStatus(schedule, service.next_slot(schedule), ())
    if as_json:
        print_json(status_dict(status))
    else:
        click.echo(format_status(status))


@schedule_group.command("list")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def schedule_list(ctx: CliContext, limit: int, as_json: bool) -> None:
    """Active schedules and recent finished ones, with their latest posts (missed/unknown/failed shown)."""
    with posting_service(ctx) as service:
        statuses = service.statuses(limit)
    if as_json:
        print_json([status_dict(status) for status in statuses])
        return
    for status in statuses:
        click.echo(format_status(status))
    if not statuses:
        click.echo("no schedules")


@schedule_group.command("cancel")
@click.argument("schedule_id", type=int)
@click.pass_obj
def schedule_cancel(ctx: CliContext, schedule_id: int) -> None:
    """Cancel a schedule; its posts not yet started are dropped."""
    with posting_service(ctx) as service:
        try:
            service.cancel(schedule_id)
        except SchedulingError as exc:
            fail(f"schedule: {exc}")
    click.echo(f"schedule #{schedule_id} cancelled")


COMMANDS = [suggest, drafts_group, schedule_group]
