"""Automod as a feature: a first route that acts on flagged incoming messages, and the `/modlog` commands."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.automod.modlog import ModerationLog
from bot.automod.policy import AutomodPolicy, AutomodVerdict, decide
from bot.automod.settings import AutomodSection
from bot.config import section_values
from bot.delivery import DeliveryError
from bot.messages import ConversationKey, OutgoingMessage, PlatformAction
from bot.plugin import GUARD_AUTOMOD, BaseFeature, FeatureContext
from bot.routing import Command, RouteReply, TurnContext, consumed

log = logging.getLogger(__name__)

REVERSAL_POLL_S = 15.0


def automod_feature(section: AutomodSection) -> AutomodFeature:
    """The feature as `[automod]` configures it (mode "off" when not enabled)."""
    policy = AutomodPolicy(**section_values(section, AutomodPolicy, mode=section.mode if section.enabled else "off"))
    staff = ConversationKey(section.staff_platform, section.staff_chat_id) if section.staff_chat_id else None
    return AutomodFeature(policy, dict(section.chat_modes), staff)


class AutomodFeature(BaseFeature):
    """Protects a community from its users: warn, delete, time out and notify staff, with escalation."""

    name = "automod"

    def __init__(
        self, policy: AutomodPolicy, chat_modes: dict[str, str] | None = None, staff: ConversationKey | None = None
    ) -> None:
        self.policy = policy
        self.chat_modes = chat_modes or {}
        self.staff = staff
        self._context: FeatureContext | None = None
        self._modlog: ModerationLog | None = None
        self._reversal_task: asyncio.Task[None] | None = None

    @property
    def app(self) -> FeatureContext:
        assert self._context is not None, "AutomodFeature used before install()"
        return self._context

    @property
    def modlog(self) -> ModerationLog:
        assert self._modlog is not None, "AutomodFeature used before install()"
        return self._modlog

    def install(self, context: FeatureContext) -> None:
        self._context = context
        self._modlog = ModerationLog(context.store)
        # Found by type by what manages it (the dashboard), never by its name.
        context.services.provide(self)
        context.add_route(AutomodRoute(self), GUARD_AUTOMOD, stage="guard")
        context.add_command(
            Command(
                "modlog",
                "review automod actions: /modlog [n] | undo <id> | wrong <id>",
                self.cmd_modlog,
                admin_only=True,
                usage="/modlog [n] | undo <id> | wrong <id>",
            )
        )

    async def start(self) -> None:
        self._reversal_task = asyncio.create_task(self._reversal_loop())

    async def stop(self) -> None:
        if self._reversal_task is not None:
            self._reversal_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reversal_task

    def forget_user(self, platform: str, user_id: str) -> int:
        """Keep the record of moderation actions but drop the person's words from it."""
        with self.app.store.transaction() as db:
            return int(
                db.execute(
                    "update automod_actions set text = '' where platform_user_id = ? and conversation_id in "
                    "(select id from conversations where platform = ?)",
                    [user_id, platform],
                ).rowcount
            )

    # acting ---------------------------------------------------------------------------------------------

    def policy_for(self, conversation: ConversationKey) -> AutomodPolicy:
        mode = self.chat_modes.get(f"{conversation.platform}:{conversation.chat_id}")
        if mode is None:
            return self.policy
        from dataclasses import replace

        return replace(self.policy, mode=mode)

    async def review(self, turn: TurnContext) -> RouteReply | None:
        flag = turn.input_flag
        if flag is None or not flag.flagged or turn.is_admin or turn.message.is_direct:
            return None
        policy = self.policy_for(turn.message.conversation)
        author = turn.message.author.user_id
        prior = self.modlog.recent_offences(turn.conversation_id, author, policy.escalation_window_minutes)
        verdict = decide(flag, prior, policy)
        if verdict is None:
            return None
        done = await self._perform(turn, verdict)
        entry_id = self.modlog.record(
            turn.conversation_id,
            turn.stored_message_id,
            turn.message.platform_message_id,
            author,
            verdict.level,
            done,
            flag.reasons,
            flag.scores,
            turn.text,
        )
        log.info("automod #%d: %s", entry_id, ", ".join(done), extra={"session": turn.session_id})
        side: tuple[OutgoingMessage, ...] = ()
        if "notify" in done and self.staff is not None:
            name = turn.message.author.display_name or turn.message.author.username or author
            side = (
                OutgoingMessage(
                    self.staff,
                    self.app.prompts.render(
                        "automod_staff_notice",
                        entry_id=entry_id,
                        user=name,
                        chat=turn.message.conversation.session_id,
                        actions=", ".join(done),
                        reasons=", ".join(flag.reasons),
                    ),
                    kind="staff",
                ),
            )
        if "warn" in done:
            name = turn.message.author.display_name or turn.message.author.username or "there"
            warning = self.app.prompts.render(
                "automod_warning",
                user=name,
                deleted="delete" in done,
                timeout_minutes=verdict.timeout_minutes if "timeout" in done else 0,
            )
            return RouteReply(warning, "automod", gate=False, side_messages=side, details={"modlog_id": entry_id})
        if "delete" in done or "timeout" in done:
            return consumed("automod", side, modlog_id=entry_id)
        return None  # logged only: the message is handled as usual

    async def _perform(self, turn: TurnContext, verdict: AutomodVerdict) -> tuple[str, ...]:
        done: list[str] = []
        conversation = turn.message.conversation
        sender = self.app.senders.get(conversation.platform)
        for action in verdict.actions:
            platform_action: PlatformAction | None = None
            if action == "delete":
                platform_action = PlatformAction(
                    "delete_message", conversation, message_id=turn.message.platform_message_id, reason="automod"
                )
            elif action == "timeout":
                platform_action = PlatformAction(
                    "timeout_user",
                    conversation,
                    user_id=turn.message.author.user_id,
                    duration_s=verdict.timeout_minutes * 60,
                    reason="automod",
                )
            if platform_action is None:
                done.append(action)
                continue
            if sender is None:
                log.warning("automod: no %s connection to %s", conversation.platform, action)
                done.append(f"{action}_failed")
                continue
            try:
                await sender.perform(platform_action)
                done.append(action)
            except DeliveryError as exc:
                log.warning("automod: %s failed: %s", action, exc, extra={"session": turn.session_id})
                done.append(f"{action}_failed")
        return tuple(done)

    # reversing ------------------------------------------------------------------------------------------

    async def undo(self, entry_id: int, by: str) -> str:
        entry = self.modlog.get(entry_id)
        if entry is None:
            return f"No automod action #{entry_id}."
        if entry.undone_at:
            return f"Action #{entry_id} was already undone."
        lifted = await self._lift_timeout(entry_id) if "timeout" in entry.actions else True
        self.modlog.mark_undone(entry_id, by, reversal_pending=not lifted)
        note = " The deleted message cannot be restored." if "delete" in entry.actions else ""
        pending = "" if lifted else " The timeout will be lifted as soon as the platform is reachable."
        return f"Undid automod action #{entry_id}.{pending}{note}"

    async def _lift_timeout(self, entry_id: int) -> bool:
        entry = self.modlog.get(entry_id)
        if entry is None:
            return True
        conversation = self.app.store.conversation_key(entry.conversation_id)
        sender = self.app.senders.get(conversation.platform)
        if sender is None:
            return False
        try:
            await sender.perform(
                PlatformAction(
                    "lift_timeout", conversation, user_id=entry.platform_user_id, reason=f"undo automod #{entry_id}"
                )
            )
        except DeliveryError as exc:
            log.warning("automod: lifting timeout #%d failed: %s", entry_id, exc)
            return False
        return True

    async def _reversal_loop(self) -> None:
        while True:
            await asyncio.sleep(REVERSAL_POLL_S)
            await self.process_pending_reversals()

    async def process_pending_reversals(self) -> int:
        """Lift timeouts undone from the CLI while no platform connection was at hand."""
        lifted = 0
        for entry in self.modlog.pending_reversals():
            if await self._lift_timeout(entry.id):
                self.modlog.reversal_done(entry.id)
                lifted += 1
        return lifted

    # commands -------------------------------------------------------------------------------------------

    async def cmd_modlog(self, turn: TurnContext, args: str) -> str:
        words = args.split()
        by = f"{turn.message.platform}:{turn.message.author.user_id}"
        if words and words[0] in ("undo", "wrong"):
            if len(words) < 2 or not words[1].lstrip("#").isdigit():
                return f"Usage: /modlog {words[0]} <id>"
            entry_id = int(words[1].lstrip("#"))
            entry = self.modlog.get(entry_id)
            if entry is None or entry.conversation_id != turn.conversation_id:
                return f"No automod action #{entry_id} in this chat."
            if words[0] == "wrong":
                self.modlog.mark_wrong(entry_id, by)
                undone = await self.undo(entry_id, by) if not entry.undone_at else ""
                return f"Thanks: #{entry_id} is stored as a false positive for the next training run. {undone}".strip()
            return await self.undo(entry_id, by)
        limit = int(words[0]) if words and words[0].isdigit() else 10
        entries = self.modlog.recent(turn.conversation_id, min(limit, 50))
        if not entries:
            return "No automod actions in this chat."
        return "\n".join(entry.summary() for entry in entries)


class AutomodRoute:
    """Runs first on every message, addressed or not, so offensive messages are acted on before anything else."""

    name = "automod"
    guards_commands = True

    def __init__(self, feature: AutomodFeature) -> None:
        self.feature = feature

    async def respond(self, turn: TurnContext) -> RouteReply | None:
        return await self.feature.review(turn)
