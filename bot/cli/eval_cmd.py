"""`socialbot eval moderation|kb|conversation|injection`: the figures the issues ask for, for people or JSON."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from bot.cli.main import CliContext, configure_logging, fail, print_json, status
from bot.kb import KbError
from bot.kb.settings import KbSection

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OLID = REPO_ROOT.parent / "shared" / "data" / "olid" / "olid-training-v1.0.tsv"


@click.group("eval")
def eval_group() -> None:
    """Evaluate the moderation classifiers, the knowledge base, or the prompt-injection defences."""


@eval_group.command("moderation")
@click.option(
    "--data",
    "data_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="OLID-format TSV (held-out split is taken from it) or a JSONL/TSV fixture used whole.",
)
@click.option(
    "--harm-data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Harm evaluation set (JSONL with text and harmful).",
)
@click.option("--fixture", is_flag=True, help="Evaluate --data whole instead of its held-out split.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def moderation(data_path: Path | None, harm_data: Path | None, fixture: bool, as_json: bool) -> None:
    """Held-out figures per split: OLID (classifier and whole gate), harm check, COLD, benign regression set."""
    from bot.evaluation import moderation as evaluation
    from bot.evaluation.moderation_report import format_moderation_eval, moderation_eval

    configure_logging("WARNING")
    olid = data_path or DEFAULT_OLID
    if not olid.is_file():
        fail(f"OLID data not found at {olid}: pass --data PATH")
    try:
        report = moderation_eval(olid, harm_data, fixture, status)
    except (evaluation.EvaluationDataError, OSError, ValueError) as exc:
        fail(f"evaluation failed: {exc}")
    if as_json:
        print_json(report)
    else:
        click.echo(format_moderation_eval(report))


@eval_group.command("kb")
@click.option(
    "--questions",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Questions JSONL (default: eval/kb/questions.jsonl).",
)
@click.option("--split", type=click.Choice(["test", "calibration", "all"]), default="test", show_default=True)
@click.option("--limit", type=int, default=None, help="Only the first N questions (a smoke run).")
@click.option("--no-model", is_flag=True, help="Retrieval and extractive answers only, without the model.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def kb(ctx: CliContext, questions: Path | None, split: str, limit: int | None, no_model: bool, as_json: bool) -> None:
    """Retrieval hit@1/hit@3, answer accuracy, decline precision/recall and latency on the shop eval set."""
    from bot.app import BotApp
    from bot.evaluation.kb import format_kb_eval, run_kb_eval

    configure_logging("WARNING")
    app = BotApp.build(ctx.config(), features=[], progress=status)

    async def run() -> dict[str, object]:
        if not no_model:
            await app.start(progress=status)
        try:
            return await run_kb_eval(
                app,
                questions,
                limit=limit,
                use_model=not no_model,
                split=split,
                progress=lambda done, total: status(f"  {done}/{total}") if done % 25 == 0 else None,
            )
        finally:
            if no_model:
                app.store.close()
            else:
                await app.stop()

    figures = asyncio.run(run())
    if as_json:
        print_json(figures)
    else:
        click.echo(format_kb_eval(figures))


@eval_group.command("conversation")
@click.option(
    "--split",
    type=click.Choice(["tuning", "heldout", "fresh", "fresh2", "all"]),
    default="all",
    show_default=True,
    help="'fresh', 'fresh2': the second and third held-out splits of the KB sets (the conversation set has no such"
    " splits).",
)
@click.option("--no-model", is_flag=True, help="Without the language model (its checked replies are left out).")
@click.option(
    "--kb-sets/--no-kb-sets",
    default=True,
    show_default=True,
    help="Also the CLINC150 / Banking77 knowledge-base sets (read from ../shared/data; a few minutes).",
)
@click.option("--limit", type=int, default=None, help="Only the first N queries of each KB set split (smoke run).")
@click.option(
    "--items",
    "items_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Run only this JSON-lines conversation set (all its splits; no KB sets), e.g. a set written by someone else.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def conversation(
    ctx: CliContext,
    split: str,
    no_model: bool,
    kb_sets: bool,
    limit: int | None,
    items_file: Path | None,
    as_json: bool,
) -> None:
    """Small talk, KB answers and declines, no-KB declines and refusals on our conversation set (six languages),
    and KB answers/declines on CLINC150 and Banking77 intents, each for its tuning and held-out split."""
    from bot.evaluation.conversation import (
        conversation_figures,
        format_conversation_figures,
        load_conversations,
        run_conversation_eval,
    )
    from bot.evaluation.kb_intents import BENCHMARKS, benchmark_figures, format_benchmark_figures, run_benchmark
    from bot.kb.answerability import load_judge
    from bot.kb.answering import KbSettings
    from bot.prompts import PromptLibrary

    configure_logging("WARNING")
    loaded = ctx.config()
    splits = ["tuning", "heldout", "fresh", "fresh2"] if split == "all" else [split]
    conversation_splits = [name for name in splits if name not in ("fresh", "fresh2")]
    items = None
    if items_file is not None:
        try:
            items = load_conversations(items_file)
        except KbError as exc:
            fail(str(exc))
        conversation_splits = list(dict.fromkeys(item.split for item in items))
        kb_sets = False

    async def run() -> dict[str, object]:
        report: dict[str, object] = {}
        results = (
            await run_conversation_eval(loaded, "all", use_model=not no_model, items=items, progress=status)
            if conversation_splits
            else []
        )
        report["conversation"] = {
            name: conversation_figures([r for r in results if r.item.split == name], name)
            for name in conversation_splits
        }
        if kb_sets:
            judge = await asyncio.to_thread(load_judge, loaded.section(KbSection).answerability_judge)
            section = loaded.section(KbSection)
            sets: dict[str, object] = {}
            for name in BENCHMARKS:
                for part in splits:
                    status(f"{name} / {part}…")
                    rows = await run_benchmark(
                        name,
                        part,
                        PromptLibrary(),
                        KbSettings.from_section(section),
                        judge,
                        section.lexical_weight,
                        limit=limit,
                        progress=lambda done, total: status(f"  {done}/{total}") if done % 100 == 0 else None,
                    )
                    sets[f"{name}/{part}"] = benchmark_figures(name, part, rows)
            report["kb_sets"] = sets
        return report

    try:
        report = asyncio.run(run())
    except KbError as exc:
        fail(f"evaluation failed: {exc}")
    if as_json:
        print_json(report)
        return
    for figures in report["conversation"].values():  # type: ignore[attr-defined]
        click.echo(format_conversation_figures(figures))
    for figures in report.get("kb_sets", {}).values():  # type: ignore[attr-defined]
        click.echo(format_benchmark_figures(figures))


@eval_group.command("injection")
@click.option("--attacks", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def injection(ctx: CliContext, attacks: Path | None, as_json: bool) -> None:
    """Send the prompt-injection suite through the full pipeline (real model); count what leaks."""
    from bot.app import BotApp
    from bot.config import LoadedConfig
    from bot.evaluation.injection import DEFAULT_ATTACKS, format_report, load_attacks, run_injection_suite

    configure_logging("WARNING")
    loaded = ctx.config()
    settings = loaded.settings
    suite_prompts = DEFAULT_ATTACKS.parent / "prompts"
    bot_section = settings.bot.model_copy(update={"prompts_dir": str(suite_prompts), "database": ":memory:"})
    config = LoadedConfig(
        settings=settings.model_copy(update={"bot": bot_section}),
        secrets=loaded.secrets,
        source=loaded.source,
        base_dir=loaded.base_dir,
    )
    app = BotApp.build(config, features=[], progress=status)
    canaries = ("sk-canary-7f3a9c2e1b5d4f6a8e0c91b2", "ZEBRA-42-PRIVATE")

    async def run() -> None:
        await app.start(progress=status)
        try:
            report = await run_injection_suite(app, load_attacks(attacks or DEFAULT_ATTACKS), canaries)
        finally:
            await app.stop()
        if as_json:
            print_json(report.as_dict())
        else:
            click.echo(format_report(report))

    asyncio.run(run())


COMMANDS = [eval_group]
