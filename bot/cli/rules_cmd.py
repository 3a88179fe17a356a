"""`socialbot rules ...` and `socialbot mute|unmute|mutes`: manage auto-replies and mutes as the operator.

The CLI works on the database directly (no model is loaded); the operator is an admin everywhere and is
recorded as `cli` in the audit log. A running bot picks rule changes up on its next message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml

from bot import audit
from bot.cli.main import CliContext, fail, print_json
from bot.rules.commands import describe, details, spec_to_rule
from bot.rules.model import RuleError
from bot.rules.mutes import MuteList
from bot.rules.replier import AutoReplier, template_values
from bot.rules.repository import RuleRepository
from bot.rules.settings import RulesSection
from bot.rules.syntax import parse_rule_spec
from bot.store import Store

ACTOR = "cli"
SPEC_HELP = """SPEC is the chat syntax, quoted for the shell, e.g.
'keyword "opening hours" -> We are open 9-17.'  'regex ^order\\s+(?P<id>\\d+) -> Order {id}.'
'similar threshold=0.8 "how do I reset my password" -> Settings > Account.'  '... -> prompt:rule_answer'"""


def _open_store(ctx: CliContext) -> Store:
    return Store.open(ctx.config().database_path)


def _repository(ctx: CliContext) -> tuple[Store, RuleRepository]:
    store = _open_store(ctx)
    return store, RuleRepository(store, ctx.config().section(RulesSection).max_rules)


def _scope(platform: str, chats: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    if chats and not platform:
        fail("--chat needs --platform (chat ids are per platform)")
    return platform, chats


@click.group("rules")
def rules_group() -> None:
    """Auto-reply rules: add, list, show, edit, enable, disable, delete, test, import, export, bench."""


@rules_group.command("add")
@click.argument("spec", nargs=-1, required=True)
@click.option("--platform", default="", help="Only on this platform (default: every platform).")
@click.option("--chat", "chats", multiple=True, help="Only in this chat id (repeatable; needs --platform).")
@click.option("--json", "as_json", is_flag=True, help="Print the saved rule as JSON.")
@click.pass_obj
def add(ctx: CliContext, spec: tuple[str, ...], platform: str, chats: tuple[str, ...], as_json: bool) -> None:
    """Add a rule. SPEC: '<keyword|regex|similar> [options] <trigger> -> <reply | prompt:name>'."""
    store, repository = _repository(ctx)
    try:
        rule = spec_to_rule(parse_rule_spec(" ".join(spec)), None, _scope(platform, chats))
        saved = repository.add(rule, ACTOR)
    except RuleError as exc:
        fail(f"rule not added: {exc}")
    finally:
        store.close()
    print_json({"id": saved.id, **saved.to_dict()}) if as_json else click.echo(f"added {describe(saved)}")


add.help = (add.help or "") + "\n\n" + SPEC_HELP


@rules_group.command("list")
@click.option("--platform", default="", help="Only rules that apply on this platform.")
@click.option("--chat", default="", help="Only rules that apply in this chat (with --platform).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_rules(ctx: CliContext, platform: str, chat: str, as_json: bool) -> None:
    """List rules, best first (highest priority, then oldest)."""
    store, repository = _repository(ctx)
    try:
        rules = repository.all()
    finally:
        store.close()
    if platform:
        rules = [
            r
            for r in rules
            if (not r.platform or r.platform == platform) and (not chat or r.applies_to(platform, chat))
        ]
    rules.sort(key=lambda rule: (-rule.priority, rule.id))
    if as_json:
        print_json([{"id": rule.id, **rule.to_dict()} for rule in rules])
        return
    for rule in rules:
        click.echo(f"{describe(rule)}  [{rule.scope_label()}]")
    if not rules:
        click.echo("no rules", err=True)


def _get_rule(repository: RuleRepository, rule_id: int) -> Any:
    try:
        return repository.require(rule_id)
    except RuleError as exc:
        fail(str(exc))


@rules_group.command("show")
@click.argument("rule_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def show(ctx: CliContext, rule_id: int, as_json: bool) -> None:
    """Show one rule in full."""
    store, repository = _repository(ctx)
    try:
        rule = _get_rule(repository, rule_id)
    finally:
        store.close()
    cooldown = ctx.config().section(RulesSection).default_cooldown_s if rule.cooldown_s is None else rule.cooldown_s
    print_json({"id": rule.id, **rule.to_dict()}) if as_json else click.echo(details(rule, cooldown))


@rules_group.command("edit")
@click.argument("rule_id", type=int)
@click.argument("spec", nargs=-1)
@click.option("--platform", default=None, help="New scope: this platform ('' for every platform).")
@click.option("--chat", "chats", multiple=True, help="New scope: these chat ids (with --platform).")
@click.pass_obj
def edit(ctx: CliContext, rule_id: int, spec: tuple[str, ...], platform: str | None, chats: tuple[str, ...]) -> None:
    """Change a rule: SPEC is '[options] [<kind> <trigger>] [-> reply]', e.g. 'priority=5 -> New reply'."""
    store, repository = _repository(ctx)
    try:
        rule = _get_rule(repository, rule_id)
        scope = _scope(platform, chats) if platform is not None else None
        parsed = parse_rule_spec(" ".join(spec), require_trigger=False)
        saved = repository.update(spec_to_rule(parsed, rule, scope), ACTOR)
    except RuleError as exc:
        fail(f"rule not changed: {exc}")
    finally:
        store.close()
    click.echo(f"updated {describe(saved)}")


def _set_enabled(ctx: CliContext, rule_id: int, enabled: bool) -> None:
    store, repository = _repository(ctx)
    try:
        _get_rule(repository, rule_id)
        repository.set_enabled(rule_id, enabled, ACTOR)
    finally:
        store.close()
    click.echo(f"rule #{rule_id} {'enabled' if enabled else 'disabled'}")


@rules_group.command("enable")
@click.argument("rule_id", type=int)
@click.pass_obj
def enable(ctx: CliContext, rule_id: int) -> None:
    """Turn a rule on."""
    _set_enabled(ctx, rule_id, True)


@rules_group.command("disable")
@click.argument("rule_id", type=int)
@click.pass_obj
def disable(ctx: CliContext, rule_id: int) -> None:
    """Turn a rule off (kept, but never answers)."""
    _set_enabled(ctx, rule_id, False)


@rules_group.command("delete")
@click.argument("rule_id", type=int)
@click.pass_obj
def delete(ctx: CliContext, rule_id: int) -> None:
    """Delete a rule."""
    store, repository = _repository(ctx)
    try:
        _get_rule(repository, rule_id)
        repository.delete(rule_id, ACTOR)
    finally:
        store.close()
    click.echo(f"deleted rule #{rule_id}")


@rules_group.command("test")
@click.argument("text", nargs=-1, required=True)
@click.option("--platform", default="console", show_default=True)
@click.option("--chat", default="cli", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def test(ctx: CliContext, text: tuple[str, ...], platform: str, chat: str, as_json: bool) -> None:
    """Which rule would answer TEXT in a chat, and what would it say (cooldowns ignored)."""
    from bot.messages import Author, ConversationKey, IncomingMessage
    from bot.rules.feature import shared_encode

    message_text = " ".join(text)
    settings = ctx.config().section(RulesSection)
    store, repository = _repository(ctx)
    try:
        replier = AutoReplier(repository, shared_encode, settings.semantic_threshold, settings.default_cooldown_s)
        matches = replier.find(message_text, platform, chat)
    finally:
        store.close()
    message = IncomingMessage(ConversationKey(platform, chat), Author("cli", display_name="you"), message_text)
    if not matches:
        print_json({"rule": None}) if as_json else click.echo("no rule would answer; the bot would go on to KB/model")
        return
    planned = replier.plan(matches[0], message, message_text)
    answer = planned.text or f"(the model, with prompt '{planned.prompt_name}')"
    if as_json:
        print_json(
            {
                "rule": matches[0].rule.id,
                "answer": answer,
                "score": matches[0].score,
                "also": [m.rule.id for m in matches[1:]],
                "values": template_values(message, matches[0].groups),
            }
        )
        return
    score = f" (similarity {matches[0].score:.2f})" if matches[0].score is not None else ""
    click.echo(f"rule #{matches[0].rule.id}{score} would answer: {answer}")
    if len(matches) > 1:
        click.echo(f"also matching: {', '.join(f'#{m.rule.id}' for m in matches[1:])}")


@rules_group.command("export")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["yaml", "json"]),
    default=None,
    help="Default: from the file extension, else YAML.",
)
@click.pass_obj
def export(ctx: CliContext, path: str | None, fmt: str | None) -> None:
    """Write every rule as YAML or JSON (to PATH, or stdout), to keep them in git."""
    store, repository = _repository(ctx)
    try:
        data = {"rules": repository.export()}
    finally:
        store.close()
    fmt = fmt or ("json" if path and path.endswith(".json") else "yaml")
    text = (
        json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        if fmt == "json"
        else yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    )
    if path:
        Path(path).write_text(text, encoding="utf-8")
        click.echo(f"exported {len(data['rules'])} rules to {path}", err=True)
    else:
        click.echo(text, nl=False)


@rules_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--replace", "replace_all", is_flag=True, help="Delete every existing rule first.")
@click.pass_obj
def import_rules(ctx: CliContext, path: str, replace_all: bool) -> None:
    """Add rules from a YAML or JSON file written by `export` (all or nothing)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))  # YAML reads JSON too
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        fail(f"{path}: not YAML or JSON: {exc}")
    store, repository = _repository(ctx)
    try:
        added, removed = repository.import_rules(data, ACTOR, replace_all=replace_all)
    except RuleError as exc:
        fail(f"{path}: nothing imported: {exc}")
    finally:
        store.close()
    click.echo(f"imported {added} rules" + (f" (replaced {removed})" if replace_all else ""))


@rules_group.command("audit")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def audit_log(ctx: CliContext, limit: int, as_json: bool) -> None:
    """Recent admin actions (rules, settings, mutes), newest first."""
    store = _open_store(ctx)
    try:
        entries = audit.recent(store, limit)
    finally:
        store.close()
    for entry in entries:
        if as_json:
            print_json(entry.__dict__)
        else:
            click.echo(f"{entry.created_at[:19]} {entry.actor} {entry.action} {entry.target}")


@rules_group.command("bench")
@click.option("--messages", default=300, show_default=True, help="Messages timed per rule count.")
@click.option("--semantic/--no-semantic", default=True, help="Include 'similar' rules (loads the encoder).")
@click.option("--json", "as_json", is_flag=True)
def bench(messages: int, semantic: bool, as_json: bool) -> None:
    """Median and p99 matching time per message with 10, 100 and 1,000 mixed rules."""
    from bot.benchmarks.rules import run_bench

    encoder = None
    if semantic:
        from bot.rules.feature import shared_encode

        encoder = shared_encode()
    for result in run_bench(messages=messages, encoder=encoder):
        if as_json:
            print_json(result.__dict__)
        else:
            click.echo(
                f"{result.rules:>5} rules  median {result.median_ms:.3f} ms  p99 {result.p99_ms:.3f} ms  "
                f"(lookup alone: median {result.match_median_ms:.3f} ms, p99 {result.match_p99_ms:.3f} ms; "
                f"build {result.build_s:.2f} s, semantic={result.semantic})"
            )


@click.command("mute")
@click.argument("platform")
@click.argument("user_id")
@click.option("--chat", default="", help="Only in this chat (default: every chat of the platform).")
@click.option("--minutes", type=float, default=None, help="For how long (default: until unmuted).")
@click.pass_obj
def mute(ctx: CliContext, platform: str, user_id: str, chat: str, minutes: float | None) -> None:
    """Ignore a user's messages (stored, never answered)."""
    if minutes is not None and minutes <= 0:
        fail("--minutes must be more than 0")
    store = _open_store(ctx)
    try:
        MuteList(store).mute(platform, chat, user_id, minutes, ACTOR)
    finally:
        store.close()
    click.echo(
        f"muted {platform}:{user_id} {'in ' + chat if chat else 'everywhere'}"
        + (f" for {minutes:g} minutes" if minutes else "")
    )


@click.command("unmute")
@click.argument("platform")
@click.argument("user_id")
@click.option("--chat", default="", help="The chat the mute was for (default: the platform-wide mute).")
@click.pass_obj
def unmute(ctx: CliContext, platform: str, user_id: str, chat: str) -> None:
    """Lift a mute."""
    store = _open_store(ctx)
    try:
        removed = MuteList(store).unmute(platform, chat, user_id, ACTOR)
    finally:
        store.close()
    if not removed:
        fail(f"{platform}:{user_id} was not muted {'in ' + chat if chat else 'platform-wide'}", code=1)
    click.echo(f"unmuted {platform}:{user_id}")


@click.command("mutes")
@click.option("--platform", default="")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def mutes(ctx: CliContext, platform: str, as_json: bool) -> None:
    """List mutes still in force."""
    store = _open_store(ctx)
    try:
        active = MuteList(store).active(platform)
    finally:
        store.close()
    for entry in active:
        if as_json:
            print_json(entry.__dict__)
        else:
            click.echo(
                f"{entry.platform}:{entry.user_id} chat={entry.chat_id or '*'} until={entry.until or '-'} "
                f"by {entry.muted_by}"
            )


COMMANDS = [rules_group, mute, unmute, mutes]
