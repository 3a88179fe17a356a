"""`socialbot kb add|list|remove|search|bench` and `socialbot tickets list|close`."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from bot.cli.main import CliContext, fail, print_json
from bot.kb import KbError
from bot.kb.knowledge_base import IngestResult, KnowledgeBase, expand_paths, knowledge_base_for
from bot.kb.poison import FlaggedText
from bot.kb.settings import KbSection
from bot.kb.tickets import TicketDesk


def _knowledge_base(ctx: CliContext) -> KnowledgeBase:
    from bot.store import Store, StoreError

    config = ctx.config()
    try:
        store = Store.open(config.database_path)
    except StoreError as exc:
        fail(f"database error: {exc}")
    section = config.section(KbSection)
    return knowledge_base_for(store, section)


@click.group("kb")
def kb_group() -> None:
    """The knowledge base the bot answers customer questions from."""


@kb_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def kb_list(ctx: CliContext, as_json: bool) -> None:
    """List the documents in the knowledge base."""
    kb = _knowledge_base(ctx)
    try:
        documents = kb.documents()
        flagged = kb.flagged_instructions()
    finally:
        kb.store.close()
    if as_json:
        print_json(
            [
                {**document.__dict__, "instructions": [item.sentence for item in flagged.get(document.source, [])]}
                for document in documents
            ]
        )
        return
    if not documents:
        click.echo("The knowledge base is empty. Add documents with: socialbot kb add PATH...")
        return
    for document in documents:
        click.echo(
            f"{document.id:>4}  {document.kind:<8} {document.passage_count:>4} passages  "
            f"{document.title}  ({document.source})"
        )
        _print_flagged(flagged.get(document.source, []))


@kb_group.command("remove")
@click.argument("documents", nargs=-1, required=True)
@click.pass_obj
def kb_remove(ctx: CliContext, documents: tuple[str, ...]) -> None:
    """Remove documents by id (see `kb list`) or by path."""
    kb = _knowledge_base(ctx)
    failed = False
    try:
        for reference in documents:
            try:
                removed = kb.remove(reference)
            except KbError as exc:
                click.echo(str(exc), err=True)
                failed = True
                continue
            click.echo(f"removed #{removed.id} {removed.title} ({removed.passage_count} passages)")
    finally:
        kb.store.close()
    if failed:
        raise SystemExit(1)


@kb_group.command("search")
@click.argument("query")
@click.option("-k", "--top", "top_k", default=5, show_default=True, help="Passages to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def kb_search(ctx: CliContext, query: str, top_k: int, as_json: bool) -> None:
    """Show the passages retrieval finds for QUERY, with their scores."""
    kb = _knowledge_base(ctx)
    try:
        hits = kb.search(query, top_k)
    finally:
        kb.store.close()
    if as_json:
        print_json([{**hit.as_dict(), "text": hit.text} for hit in hits])
        return
    if not hits:
        click.echo("No passages found (is the knowledge base empty?).")
    for rank, hit in enumerate(hits, 1):
        preview = " ".join(hit.text.split())
        preview = preview if len(preview) <= 160 else preview[:159] + "…"
        click.echo(
            f"{rank}. {hit.score:.3f} (vector {hit.vector_score:.3f}, lexical {hit.lexical_score:.3f})  "
            f"{hit.title} › {hit.heading}\n   {preview}"
        )


@kb_group.command("bench")
@click.option("--sizes", default="1000,10000,100000", show_default=True, help="Comma-separated passage counts.")
@click.option("--queries", default=200, show_default=True, help="Queries per size.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def kb_bench(sizes: str, queries: int, as_json: bool) -> None:
    """Vector search latency p50/p99 over random unit vectors (the in-memory matrix search)."""
    from bot.benchmarks.kb import bench_vector_search

    results = [bench_vector_search(int(size), queries) for size in sizes.split(",") if size.strip()]
    if as_json:
        print_json(results)
        return
    for result in results:
        click.echo(
            f"{result['passages']:>7} passages: p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms "
            f"(top-{result['k']}, {result['queries']} queries)"
        )


@click.group("tickets")
def tickets_group() -> None:
    """Support tickets: conversations handed to a person."""


@tickets_group.command("list")
@click.option("--all", "include_closed", is_flag=True, help="Include closed tickets.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def tickets_list(ctx: CliContext, include_closed: bool, as_json: bool) -> None:
    """List open tickets (with --all, closed ones too)."""
    desk = _ticket_desk(ctx)
    try:
        tickets = desk.tickets(include_closed=include_closed)
    finally:
        desk.store.close()
    if as_json:
        print_json([ticket.as_dict() for ticket in tickets])
        return
    if not tickets:
        click.echo("No tickets." if include_closed else "No open tickets.")
    for ticket in tickets:
        first_line = ticket.summary.split("\n", 1)[0]
        click.echo(
            f"#{ticket.id} [{ticket.status}] {ticket.user_name} in {ticket.conversation.session_id}, "
            f"opened {ticket.opened_at[:16]}: {first_line}"
        )


@tickets_group.command("close")
@click.argument("ticket_id", type=int)
@click.pass_obj
def tickets_close(ctx: CliContext, ticket_id: int) -> None:
    """Close a ticket: the bot answers in that conversation again."""
    desk = _ticket_desk(ctx)
    try:
        ticket = desk.close(ticket_id, "cli")
    except KbError as exc:
        fail(str(exc), code=1)
    finally:
        desk.store.close()
    click.echo(f"closed ticket #{ticket.id}; the bot answers in {ticket.conversation.session_id} again")


def _ticket_desk(ctx: CliContext) -> TicketDesk:
    from bot.store import Store, StoreError

    try:
        return TicketDesk(Store.open(ctx.config().database_path))
    except StoreError as exc:
        fail(f"database error: {exc}")


def _print_ingest(
    path: Path, outcome: IngestResult | KbError, as_json: bool, flagged: Sequence[FlaggedText] = ()
) -> None:
    if isinstance(outcome, KbError):
        if as_json:
            print_json({"source": str(path), "status": "error", "error": str(outcome)})
        else:
            click.echo(f"skipped: {outcome}", err=True)
        return
    if as_json:
        print_json({**outcome.__dict__, "instructions": [item.sentence for item in flagged]})
        return
    if outcome.status != "unchanged":
        click.echo(
            f"{outcome.status}: {outcome.title} (+{outcome.passages_added} passages, "
            f"{outcome.passages_kept} unchanged, -{outcome.passages_removed})",
            err=True,
        )
    _print_flagged(flagged, label=outcome.source)


def _print_flagged(flagged: Sequence[FlaggedText], label: str = "") -> None:
    """Warn about instruction-like sentences (never quoted to customers) so the owner can fix the document."""
    if not flagged:
        return
    where = f"{label}: " if label else "      "
    click.echo(
        f"{where}warning: {len(flagged)} instruction-like sentence(s); the bot never quotes them to customers:",
        err=True,
    )
    for item in flagged:
        preview = item.sentence if len(item.sentence) <= 120 else item.sentence[:119] + "…"
        click.echo(f"        ! {preview}", err=True)


def _file_name(path: Path | None) -> str:
    return path.name if path is not None else ""


def _kb_add(ctx: CliContext, paths: tuple[Path, ...], as_json: bool) -> None:
    try:
        files = expand_paths(paths)
    except KbError as exc:
        fail(str(exc))
    if not files:
        fail("no supported files found (.md, .txt, .html, .csv, .json)")
    kb = _knowledge_base(ctx)
    outcomes: list[IngestResult | KbError] = []
    try:
        with click.progressbar(
            files,
            label="adding documents",
            file=sys.stderr,
            item_show_func=_file_name,
        ) as bar:
            for path in bar:
                try:
                    outcome: IngestResult | KbError = kb.add_file(path)
                except KbError as exc:
                    outcome = exc
                outcomes.append(outcome)
        for path, outcome in zip(files, outcomes, strict=True):
            flagged = kb.flagged_instructions(outcome.source) if isinstance(outcome, IngestResult) else {}
            _print_ingest(path, outcome, as_json, [item for items in flagged.values() for item in items])
        total = kb.passage_count()
    finally:
        kb.store.close()
    results = [outcome for outcome in outcomes if isinstance(outcome, IngestResult)]
    errors = len(outcomes) - len(results)
    if not as_json:
        added = sum(result.passages_added for result in results)
        removed = sum(result.passages_removed for result in results)
        click.echo(
            f"{len(results)} files: {added} passages embedded, {removed} removed, "
            f"{sum(1 for r in results if r.status == 'unchanged')} unchanged; {total} passages in total"
            + (f"; {errors} skipped" if errors else "")
        )
    if errors:
        raise SystemExit(1)


@kb_group.command("add")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file.")
@click.pass_obj
def kb_add_command(ctx: CliContext, paths: tuple[Path, ...], as_json: bool) -> None:
    """Add or update documents (Markdown, text, HTML, FAQ CSV/JSON; folders recursively).

    Re-adding a changed file embeds only the passages whose content changed.
    """
    _kb_add(ctx, paths, as_json)


COMMANDS = [kb_group, tickets_group]
