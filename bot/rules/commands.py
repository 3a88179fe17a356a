"""Chat commands for admins: `/rules`, `/settings`, `/mute`, `/unmute` (admin-only; the manager checks that).

A chat admin manages the rules scoped to their own chat; rules for a whole platform or everywhere need a
global admin (`[bot] admin_user_ids`). Every change is audited by the stores it goes through.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from typing import Any

from bot.chat_settings import REPLY_MODES, STRICTNESS_LEVELS, ChatSettingsStore
from bot.prompts import PromptLibrary
from bot.routing import Command, TurnContext
from bot.rules.model import Rule, RuleError, validate
from bot.rules.mutes import MuteList
from bot.rules.replier import AutoReplier
from bot.rules.repository import RuleRepository
from bot.rules.syntax import RuleSpec, parse_duration, parse_rule_spec
from bot.rules.texts import LANGUAGES
from bot.store import Store

RULES_USAGE = """/rules add keyword "opening hours" -> We're open 9-17 Mon-Fri.
/rules add regex ^order\\s+(?P<id>\\d+) -> Order {id}: check your email.
/rules add similar "how do I reset my password" -> Go to Settings > Account > Reset.
/rules add similar priority=5 cooldown=2m threshold=0.8 "refund policy" -> prompt:rule_answer
Options: priority=N cooldown=60|5m threshold=0.x match=any|all name=x scope=chat|platform|all
Placeholders: {user} {chat} {1} {name}
/rules list | show ID | edit ID [options] [trigger] [-> reply] | enable ID | disable ID | delete ID
/rules test some text  (which rule would answer, and what it would say)"""
SETTINGS_USAGE = f"""/settings  (show)
/settings reply always|mention|silent|default
/settings persona NAME|default
/settings language {"|".join(LANGUAGES)}|default
/settings strictness relaxed|normal|strict|default"""
MUTE_USAGE = "/mute @user|id [minutes]  (no arguments: list)   /unmute @user|id"
LIST_LIMIT = 30
# What the manager renders a persona prompt with; a persona needing more would fail every answer.
PERSONA_VARIABLES = ("bot_name", "community_name", "tone", "today")


def actor_of(turn: TurnContext) -> str:
    return f"{turn.message.platform}:{turn.message.author.user_id}"


def describe(rule: Rule) -> str:
    """One line per rule for `/rules list`."""
    state = "on" if rule.enabled else "off"
    trigger = ", ".join(f'"{p}"' for p in rule.patterns)
    if rule.trigger_kind == "keyword" and rule.match_mode == "all":
        trigger = "all of " + trigger
    reply = f"prompt:{rule.response}" if rule.response_kind == "prompt" else rule.response
    reply = reply if len(reply) <= 60 else reply[:59] + "…"
    extra = f" prio {rule.priority}" if rule.priority else ""
    return f"#{rule.id} [{state}] {rule.trigger_kind} {trigger} -> {reply}{extra}"


def details(rule: Rule, cooldown_s: float) -> str:
    """Everything about one rule, for `/rules show`."""
    lines = [
        f"Rule #{rule.id}{f' ({rule.name})' if rule.name else ''}: {'enabled' if rule.enabled else 'disabled'}",
        f"Trigger: {rule.trigger_kind}"
        + (f" ({rule.match_mode} of)" if rule.trigger_kind == "keyword" else "")
        + (f" (threshold {rule.threshold})" if rule.threshold is not None else ""),
        *(f"  {pattern}" for pattern in rule.patterns),
        f"Reply ({rule.response_kind}): {rule.response}",
        f"Scope: {rule.scope_label()}; priority {rule.priority}; cooldown {cooldown_s:g}s",
    ]
    if rule.created_by:
        lines.append(f"Created by {rule.created_by} at {rule.created_at[:16]}")
    return "\n".join(lines)


def spec_to_rule(spec: RuleSpec, base: Rule | None, scope: tuple[str, tuple[str, ...]] | None) -> Rule:
    """A rule from a parsed command: a new one (`base` None) or `base` with the given changes."""
    changes: dict[str, Any] = {}
    if spec.trigger_kind:
        changes["trigger_kind"] = spec.trigger_kind
        changes["patterns"] = spec.patterns
    if spec.response is not None:
        changes["response"] = spec.response
        changes["response_kind"] = spec.response_kind
    option_errors = {"priority": "a whole number", "threshold": "a number between 0 and 1"}
    for name, value in spec.options.items():
        try:
            if name == "priority":
                changes["priority"] = int(value)
            elif name == "threshold":
                changes["threshold"] = float(value)
            elif name == "cooldown":
                changes["cooldown_s"] = parse_duration(value)
            elif name == "match":
                changes["match_mode"] = value.lower()
            elif name == "name":
                changes["name"] = value[:60]
        except ValueError:
            raise RuleError(f"{name} must be {option_errors.get(name, 'valid')}") from None
    if scope is not None:
        changes["platform"], changes["chats"] = scope
    if base is None:
        return validate(Rule(**{"trigger_kind": "keyword", "patterns": (), "response": "", **changes}))
    return validate(replace(base, **changes))


class AdminCommands:
    """The admin commands' handlers, bound to the feature's stores."""

    def __init__(
        self,
        store: Store,
        repository: RuleRepository,
        replier: AutoReplier,
        chat_settings: ChatSettingsStore,
        mutes: MuteList,
        prompts: PromptLibrary,
        global_admins: frozenset[str],
    ) -> None:
        self.store = store
        self.repository = repository
        self.replier = replier
        self.chat_settings = chat_settings
        self.mutes = mutes
        self.prompts = prompts
        self.global_admins = global_admins

    def commands(self) -> list[Command]:
        return [
            Command("rules", "manage auto-replies", self.rules, admin_only=True, usage=RULES_USAGE),
            Command("settings", "this chat's bot settings", self.settings, admin_only=True, usage=SETTINGS_USAGE),
            Command("mute", "ignore someone's messages", self.mute, admin_only=True, usage=MUTE_USAGE),
            Command("unmute", "stop ignoring someone", self.unmute, admin_only=True, usage=MUTE_USAGE),
        ]

    # permissions --------------------------------------------------------------------------------------

    def is_global_admin(self, turn: TurnContext) -> bool:
        return actor_of(turn) in self.global_admins

    def can_manage(self, turn: TurnContext, rule: Rule) -> bool:
        key = turn.message.conversation
        return self.is_global_admin(turn) or (rule.platform == key.platform and rule.chats == (key.chat_id,))

    def _scope(self, turn: TurnContext, spec: RuleSpec, default_here: bool) -> tuple[str, tuple[str, ...]] | None:
        key = turn.message.conversation
        wanted = spec.options.get("scope", "chat" if default_here else "")
        if not wanted:
            return None
        if wanted not in ("chat", "platform", "all"):
            raise RuleError("scope must be chat, platform or all")
        if wanted != "chat" and not self.is_global_admin(turn):
            raise RuleError("only global admins (bot.admin_user_ids) can add rules beyond this chat")
        return {"chat": (key.platform, (key.chat_id,)), "platform": (key.platform, ()), "all": ("", ())}[wanted]

    def _check_response(self, rule: Rule) -> None:
        if rule.response_kind == "prompt" and not self.prompts.has(rule.response):
            raise RuleError(f"there is no prompt '{rule.response}' in prompts/ (e.g. prompt:rule_answer)")

    def _rule_for_admin(self, turn: TurnContext, raw_id: str) -> Rule:
        digits = raw_id.lstrip("#")
        if not digits.isdigit():
            raise RuleError("give the rule number, e.g. /rules show 3")
        rule = self.repository.require(int(digits))
        key = turn.message.conversation
        if not rule.applies_to(key.platform, key.chat_id) and not self.is_global_admin(turn):
            raise RuleError(f"there is no rule #{rule.id} (see the list of rules)")
        return rule

    # /rules -------------------------------------------------------------------------------------------

    async def rules(self, turn: TurnContext, args: str) -> str:
        action, _, rest = args.strip().partition(" ")
        action, rest = action.lower(), rest.strip()
        handlers = {
            "add": self._add,
            "list": self._list,
            "show": self._show,
            "edit": self._edit,
            "enable": self._enable,
            "disable": self._disable,
            "delete": self._delete,
            "test": self._test,
        }
        handler = handlers.get(action)
        if handler is None:
            return "Usage:\n" + RULES_USAGE
        try:
            return await handler(turn, rest)
        except RuleError as exc:
            return f"Not done: {exc}"

    async def _add(self, turn: TurnContext, rest: str) -> str:
        spec = parse_rule_spec(rest)
        rule = spec_to_rule(spec, None, self._scope(turn, spec, default_here=True))
        self._check_response(rule)
        saved = self.repository.add(rule, actor_of(turn))
        return f"Added rule #{saved.id} ({saved.scope_label()}): {describe(saved)}"

    async def _list(self, turn: TurnContext, rest: str) -> str:
        key = turn.message.conversation
        everything = rest.lower() == "all" and self.is_global_admin(turn)
        rules = [r for r in self.repository.all() if everything or r.applies_to(key.platform, key.chat_id)]
        if not rules:
            return "No auto-reply rules here yet. Add one with /rules add (send /rules for examples)."
        rules.sort(key=lambda rule: (-rule.priority, rule.id))
        lines = [describe(rule) for rule in rules[:LIST_LIMIT]]
        if len(rules) > LIST_LIMIT:
            lines.append(f"… and {len(rules) - LIST_LIMIT} more (see `socialbot rules list`).")
        return "\n".join(lines)

    async def _show(self, turn: TurnContext, rest: str) -> str:
        rule = self._rule_for_admin(turn, rest)
        return details(rule, self.replier.cooldown_for(rule))

    async def _edit(self, turn: TurnContext, rest: str) -> str:
        raw_id, _, spec_text = rest.partition(" ")
        rule = self._rule_for_admin(turn, raw_id)
        if not self.can_manage(turn, rule):
            raise RuleError(f"rule #{rule.id} covers more than this chat; only a global admin can change it")
        spec = parse_rule_spec(spec_text, require_trigger=False)
        if not spec.trigger_kind and spec.response is None and not spec.options:
            raise RuleError("say what to change, e.g. /rules edit 3 priority=5 -> New reply")
        updated = spec_to_rule(spec, rule, self._scope(turn, spec, default_here=False))
        self._check_response(updated)
        saved = self.repository.update(updated, actor_of(turn))
        return f"Updated: {describe(saved)}"

    async def _set_enabled(self, turn: TurnContext, rest: str, enabled: bool) -> str:
        rule = self._rule_for_admin(turn, rest)
        if not self.can_manage(turn, rule):
            raise RuleError(f"rule #{rule.id} covers more than this chat; only a global admin can change it")
        self.repository.set_enabled(rule.id, enabled, actor_of(turn))
        return f"Rule #{rule.id} {'enabled' if enabled else 'disabled'}."

    async def _enable(self, turn: TurnContext, rest: str) -> str:
        return await self._set_enabled(turn, rest, True)

    async def _disable(self, turn: TurnContext, rest: str) -> str:
        return await self._set_enabled(turn, rest, False)

    async def _delete(self, turn: TurnContext, rest: str) -> str:
        rule = self._rule_for_admin(turn, rest)
        if not self.can_manage(turn, rule):
            raise RuleError(f"rule #{rule.id} covers more than this chat; only a global admin can delete it")
        self.repository.delete(rule.id, actor_of(turn))
        return f"Deleted rule #{rule.id}."

    async def _test(self, turn: TurnContext, rest: str) -> str:
        if not rest:
            raise RuleError("give a text to test, e.g. /rules test what are your opening hours?")
        key = turn.message.conversation
        matches = await asyncio.to_thread(self.replier.find, rest, key.platform, key.chat_id)
        if not matches:
            return "No rule would answer that; it would go on to the knowledge base / model."
        first = matches[0]
        planned = self.replier.plan(first, turn.message, rest)
        said = f"the model, with prompt '{planned.prompt_name}'" if planned.prompt_name else planned.text
        score = f" (similarity {first.score:.2f})" if first.score is not None else ""
        others = f"\nAlso matching: {', '.join(f'#{m.rule.id}' for m in matches[1:])}" if len(matches) > 1 else ""
        return f"Rule #{first.rule.id}{score} would answer: {said}{others}"

    # /settings ----------------------------------------------------------------------------------------

    async def settings(self, turn: TurnContext, args: str) -> str:
        key = turn.message.conversation
        name, _, value = args.strip().partition(" ")
        name, value = name.lower(), value.strip()
        current = self.chat_settings.get(key)
        if not name:
            return (
                f"Settings of this chat:\nreply: {current.reply_mode or 'default (when mentioned or in DMs)'}\n"
                f"persona: {current.persona or 'default'}\nlanguage: {self.chat_settings.language_for(key)}\n"
                f"strictness: {current.strictness or 'normal'}\n\n{SETTINGS_USAGE}"
            )
        reset = value.lower() == "default"
        if name == "reply" and (reset or value.lower() in REPLY_MODES):
            change = {"reply_mode": "" if reset else value.lower()}
        elif name == "persona" and (reset or self._usable_persona(value)):
            change = {"persona": "" if reset else value}
        elif name == "persona":
            return f"There is no persona prompt '{value}' in prompts/ (it may use {', '.join(PERSONA_VARIABLES)})."
        elif name == "language" and (reset or value.lower() in LANGUAGES):
            change = {"language": "" if reset else value.lower()}
        elif name == "strictness" and (reset or value.lower() in STRICTNESS_LEVELS):
            change = {"strictness": "" if reset else value.lower()}
        else:
            return "Usage:\n" + SETTINGS_USAGE
        self.chat_settings.update(key, actor_of(turn), **change)
        return f"Done: {name} is now {value.lower() if not reset else 'the default'}."

    def _usable_persona(self, name: str) -> bool:
        return self.prompts.has(name) and set(self.prompts.variables(name)) <= set(PERSONA_VARIABLES)

    # /mute, /unmute -----------------------------------------------------------------------------------

    def _resolve_user(self, platform: str, target: str) -> str | None:
        """A platform user id from `@username`, a mention like `<@123>`, or an id."""
        mention = re.fullmatch(r"<@!?(\d+)>", target)
        if mention:
            return mention.group(1)
        if target.startswith("@"):
            rows = list(
                self.store.db.query(
                    "select platform_user_id from users where platform = ? and lower(username) = lower(?) limit 1",
                    [platform, target[1:]],
                )
            )
            return str(rows[0]["platform_user_id"]) if rows else None
        return target or None

    async def mute(self, turn: TurnContext, args: str) -> str:
        key = turn.message.conversation
        parts = args.split()
        if not parts:
            active = self.mutes.active(key.platform, key.chat_id)
            if not active:
                return "Nobody is muted here.\nUsage: " + MUTE_USAGE
            return "Muted here:\n" + "\n".join(
                f"{m.user_id} until {m.until[:16] if m.until else 'unmuted'}" for m in active
            )
        user_id = self._resolve_user(key.platform, parts[0])
        if user_id is None:
            return f"I don't know {parts[0]} yet (they must have written here once), or use their id."
        if user_id == turn.message.author.user_id:
            return "You can't mute yourself."
        minutes: float | None = None
        if len(parts) > 1:
            try:
                minutes = float(parts[1])
            except ValueError:
                return "Minutes must be a number.\nUsage: " + MUTE_USAGE
            if minutes <= 0:
                return "Minutes must be more than 0."
        self.mutes.mute(key.platform, key.chat_id, user_id, minutes, actor_of(turn))
        how_long = f"for {minutes:g} minutes" if minutes else "until /unmute"
        return f"Muted {parts[0]} here {how_long}: I'll ignore their messages."

    async def unmute(self, turn: TurnContext, args: str) -> str:
        key = turn.message.conversation
        target = args.strip().split()[0] if args.strip() else ""
        user_id = self._resolve_user(key.platform, target)
        if user_id is None:
            return "Usage: " + MUTE_USAGE
        if self.mutes.unmute(key.platform, key.chat_id, user_id, actor_of(turn)):
            return f"Unmuted {target}."
        return f"{target} is not muted in this chat."
