"""The two routes this feature puts first in the manager: abuse control, then auto-reply rules."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.chat_settings import ChatSettingsStore
from bot.engine.base import ChatTurn, EngineBusy, EngineError, GenerationRequest
from bot.manager import ConversationManager
from bot.prompts import PromptError
from bot.ratelimit import RateLimiter
from bot.routing import RouteReply, TurnContext
from bot.rules.mutes import MuteList
from bot.rules.replier import AutoReplier, PlannedReply
from bot.rules.texts import fixed_text

log = logging.getLogger(__name__)

# RouteReply text "" means "consumed": the manager stores the message and sends nothing.
CONSUMED = ""


class AbuseRoute:
    """Swallows messages of muted people and of people (or chats) over their rate limit.

    Only messages the bot would answer count against the limits, so chatter in a group never uses them up.
    The first refused message gets one polite notice; the rest are stored without an answer until the
    bucket has a token again. Admins are never limited.
    """

    name = "abuse"
    guards_commands = True

    def __init__(
        self,
        mutes: MuteList,
        chat_settings: ChatSettingsStore,
        user_limiter: RateLimiter,
        chat_limiter: RateLimiter,
        admins_exempt: bool = True,
    ) -> None:
        self.mutes = mutes
        self.chat_settings = chat_settings
        self.user_limiter = user_limiter
        self.chat_limiter = chat_limiter
        self.admins_exempt = admins_exempt

    async def respond(self, turn: TurnContext) -> RouteReply | None:
        message = turn.message
        key = message.conversation
        if self.mutes.is_muted(key.platform, key.chat_id, message.author.user_id):
            log.info(
                "muted user %s: message stored, not answered", message.author.user_id, extra={"session": key.session_id}
            )
            return RouteReply(CONSUMED, "abuse:muted", gate=False)
        if not turn.addressed or (self.admins_exempt and turn.is_admin):
            return None
        verdict = self.user_limiter.hit(f"{key.platform}:{message.author.user_id}")
        notice_key = "rate_limited_user"
        if verdict == "allow":
            verdict = self.chat_limiter.hit(f"{key.platform}:{key.chat_id}")
            notice_key = "rate_limited_chat"
        if verdict == "allow":
            return None
        if verdict == "silent":
            return RouteReply(CONSUMED, "abuse:rate_limited", gate=False)
        log.warning(
            "%s over the rate limit (%s): one notice sent",
            message.author.user_id,
            notice_key,
            extra={"session": key.session_id},
        )
        user = message.author.display_name or message.author.username or "Hi"
        text = fixed_text(self.chat_settings.language_for(key), notice_key, user=user)
        return RouteReply(text, "abuse:notice", gate=False)


class RulesRoute:
    """Answers from the first matching rule that applies to the chat and is not cooling down."""

    name = "rules"

    def __init__(
        self,
        replier: AutoReplier,
        chat_settings: ChatSettingsStore,
        manager: Callable[[], ConversationManager],
        answer_unaddressed: bool = True,
    ) -> None:
        self.replier = replier
        self.chat_settings = chat_settings
        self._manager = manager
        self.answer_unaddressed = answer_unaddressed

    async def respond(self, turn: TurnContext) -> RouteReply | None:
        key = turn.message.conversation
        if not turn.text or self.chat_settings.get(key).reply_mode == "silent":
            return None
        if not turn.addressed and not self.answer_unaddressed:
            return None
        for match in await self.replier.find_async(turn.text, key.platform, key.chat_id):
            if not self.replier.ready(match.rule, key.session_id):
                log.debug("rule #%d cooling down", match.rule.id, extra={"session": key.session_id})
                continue
            self.replier.fired(match.rule, key.session_id)
            planned = self.replier.plan(match, turn.message, turn.text)
            details: dict[str, Any] = {"rule_id": match.rule.id} | (
                {"score": round(match.score, 4)} if match.score else {}
            )
            if planned.prompt_name:
                return await self._generate(turn, planned, details)
            return RouteReply(planned.text, f"rule:{match.rule.id}", gate=True, details=details)
        return None

    async def _generate(self, turn: TurnContext, planned: PlannedReply, details: dict[str, Any]) -> RouteReply:
        manager = self._manager()
        session = turn.message.conversation.session_id
        values = dict(planned.prompt_values)
        try:
            prompt = manager.prompts.render(
                planned.prompt_name,
                bot_name=manager.settings.bot_name,
                community_name=manager.settings.community_name,
                **values,
            )
        except PromptError:
            log.exception("rule #%d: prompt failed", planned.rule.id, extra={"session": session})
            return RouteReply(manager.settings.error_reply, f"rule:{planned.rule.id}:error", gate=False)
        request = GenerationRequest(
            (ChatTurn("system", manager.system_prompt(turn.message)), ChatTurn("user", prompt)),
            manager.settings.generation,
        )
        language = self.chat_settings.language_for(turn.message.conversation)
        try:
            result = await manager.engine.generate(request)
        except EngineBusy:
            return RouteReply(fixed_text(language, "busy"), "busy", gate=False)
        except EngineError:
            log.exception("rule #%d: engine failed", planned.rule.id, extra={"session": session})
            return RouteReply(fixed_text(language, "error"), "engine_error", gate=False)
        text = result.text.strip() or "Sorry, I don't have an answer to that."
        return RouteReply(
            text,
            f"rule:{planned.rule.id}",
            gate=True,
            details=details | {"prompt": planned.prompt_name, "completion_tokens": result.completion_tokens},
        )
