"""`RulesFeature`: plugs auto-replies, admin commands, per-chat settings and abuse control into the bot.

It goes first in `default_features()`: its abuse route and rules route are put at the head of the routes,
so mutes and rate limits apply before anything else answers, and rules answer before the knowledge base
and the model.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.addressing import group_modes_from
from bot.config import RulesSection
from bot.ratelimit import BucketPolicy, RateLimiter
from bot.rules.chat_settings import ChatSettingsStore
from bot.rules.commands import AdminCommands
from bot.rules.matcher import Encoder
from bot.rules.mutes import MuteList
from bot.rules.replier import AutoReplier
from bot.rules.repository import RuleRepository
from bot.rules.routes import AbuseRoute, RulesRoute

if TYPE_CHECKING:
    from bot.app import BotApp

log = logging.getLogger(__name__)


def shared_encode() -> Encoder:
    """The process-wide sentence encoder's `encode` (loaded on first use)."""
    from bot.embeddings import shared_encoder

    return shared_encoder().encode


class RulesFeature:
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

    def install(self, app: BotApp) -> None:
        section = self.section or app.config.settings.rules
        bot = app.config.settings.bot
        self.repository = RuleRepository(app.store, section.max_rules)
        encoder = self._encoder
        self.replier = AutoReplier(
            self.repository,
            (lambda: encoder) if encoder is not None else shared_encode,
            default_threshold=section.semantic_threshold,
            default_cooldown_s=section.default_cooldown_s,
        )
        self.chat_settings = ChatSettingsStore(
            app.store, bot.language, bot.persona_prompt, group_modes_from(app.config.settings)
        )
        self.mutes = MuteList(app.store)
        abuse = AbuseRoute(
            self.mutes,
            self.chat_settings,
            RateLimiter(BucketPolicy(section.user_capacity, section.user_refill_per_minute)),
            RateLimiter(BucketPolicy(section.chat_capacity, section.chat_refill_per_minute)),
            admins_exempt=section.admins_exempt,
        )
        app.routes.insert(0, abuse)
        if section.enabled:
            rules_route = RulesRoute(
                self.replier, self.chat_settings, lambda: app.manager, answer_unaddressed=section.answer_unaddressed
            )
            app.routes.insert(1, rules_route)
        app.manager_options["addressing"] = self.chat_settings.addressing
        app.manager_options["strictness"] = self.chat_settings.strictness
        app.manager_options["persona_for"] = self.chat_settings.persona_for
        admin = AdminCommands(
            app.store,
            self.repository,
            self.replier,
            self.chat_settings,
            self.mutes,
            app.prompts,
            frozenset(bot.admin_user_ids),
        )
        for command in admin.commands():
            app.commands.add(command)

    async def start(self, app: BotApp) -> None:
        if self.replier is not None:
            # Build the index now (embedding semantic examples) rather than on the first message.
            index = await self.replier.index_async()
            log.info("auto-replies ready: %d enabled rules", len(index))

    async def stop(self) -> None:
        return None
