"""`RulesFeature`: plugs auto-replies, admin commands, per-chat settings and abuse control into the bot.

Its abuse route is a guard (`GUARD_ABUSE`: mutes and rate limits before commands and answers, after automod)
and its rules route the first answer after an open ticket (`ANSWER_RULES`: before memory, the knowledge base
and the model). Per-chat settings are the core's (`bot.chat_settings`); this feature only edits them.
"""

from __future__ import annotations

import logging

from bot.chat_settings import ChatSettingsStore
from bot.plugin import ANSWER_RULES, GUARD_ABUSE, BaseFeature, FeatureContext
from bot.ratelimit import BucketPolicy, RateLimiter
from bot.rules.commands import AdminCommands
from bot.rules.matcher import Encoder
from bot.rules.mutes import MuteList
from bot.rules.replier import AutoReplier
from bot.rules.repository import RuleRepository
from bot.rules.routes import AbuseRoute, RulesRoute
from bot.rules.settings import RulesSection

log = logging.getLogger(__name__)


def shared_encode() -> Encoder:
    """The process-wide sentence encoder's `encode` (loaded on first use)."""
    from bot.embeddings import shared_encoder

    return shared_encoder().encode


class RulesFeature(BaseFeature):
    """Auto-reply rules, `/rules` `/settings` `/mute` commands, per-chat policies, mutes and rate limits."""

    name = "rules"

    def __init__(self, section: RulesSection | None = None, encoder: Encoder | None = None) -> None:
        self.section = section
        self._encoder = encoder
        self.repository: RuleRepository | None = None
        self.replier: AutoReplier | None = None
        self.chat_settings: ChatSettingsStore | None = None
        self.mutes: MuteList | None = None

    def forget_user(self, platform: str, user_id: str) -> int:
        """The audit log keeps what was done, but no longer by whom."""
        from bot.audit import forget_actor

        if self.repository is None:
            return 0
        return forget_actor(self.repository.store, f"{platform}:{user_id}")

    def install(self, context: FeatureContext) -> None:
        section = self.section or context.section(RulesSection)
        # Found by type by what manages it (the dashboard), never by its name.
        context.services.provide(self)
        bot = context.config.settings.bot
        self.repository = RuleRepository(context.store, section.max_rules)
        encoder = self._encoder
        self.replier = AutoReplier(
            self.repository,
            (lambda: encoder) if encoder is not None else shared_encode,
            default_threshold=section.semantic_threshold,
            default_cooldown_s=section.default_cooldown_s,
        )
        self.chat_settings = context.chat_settings
        self.mutes = MuteList(context.store)
        abuse = AbuseRoute(
            self.mutes,
            self.chat_settings,
            RateLimiter(BucketPolicy(section.user_capacity, section.user_refill_per_minute)),
            RateLimiter(BucketPolicy(section.chat_capacity, section.chat_refill_per_minute)),
            admins_exempt=section.admins_exempt,
        )
        context.add_route(abuse, GUARD_ABUSE, stage="guard")
        if section.enabled:
            rules_route = RulesRoute(
                self.replier, self.chat_settings, context.manager, answer_unaddressed=section.answer_unaddressed
            )
            context.add_route(rules_route, ANSWER_RULES)
        admin = AdminCommands(
            context.store,
            self.repository,
            self.replier,
            self.chat_settings,
            self.mutes,
            context.prompts,
            frozenset(bot.admin_user_ids),
        )
        for command in admin.commands():
            context.add_command(command)

    async def start(self) -> None:
        if self.replier is not None:
            # Build the index now (embedding semantic examples) rather than on the first message.
            index = await self.replier.index_async()
            log.info("auto-replies ready: %d enabled rules", len(index))
