"""The turn-policy feature: installs the language route (first of all routes) and the policy route (after the
knowledge base's handoff, the auto-reply rules and any route listed before it, such as memory follow-ups)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.language import default_detector
from bot.policy.languages import ConversationLanguages
from bot.policy.route import LanguageRoute, PersonaText, TurnPolicyRoute
from bot.policy.small_talk import SmallTalkSet

if TYPE_CHECKING:
    from bot.app import BotApp


class PolicyFeature:
    """Decides what each addressed message is and answers it accordingly (see `bot.policy.route`)."""

    name = "policy"

    def __init__(self) -> None:
        self.route: TurnPolicyRoute | None = None
        self.small_talk: SmallTalkSet | None = None

    def install(self, app: BotApp) -> None:
        from bot.app import manager_settings

        settings = app.config.settings
        if not settings.policy.enabled:
            return
        bot = settings.bot
        folders = [app.config.resolve_path(bot.prompts_dir)] if bot.prompts_dir else []
        self.small_talk = SmallTalkSet.load(folders).with_names(bot.name)
        languages = ConversationLanguages(app.store, default=bot.language)
        kb_feature = next((feature for feature in app.features if getattr(feature, "name", "") == "kb"), None)
        kb = getattr(kb_feature, "kb", None) if settings.kb.enabled else None
        answerer = getattr(kb_feature, "answerer", None) if settings.kb.enabled else None

        def persona() -> str:
            return app.prompts.render(
                bot.persona_prompt,
                bot_name=bot.name,
                community_name=bot.community_name,
                tone=bot.tone,
                today=datetime.now(UTC).strftime("%A %d %B %Y"),
            )

        self.route = TurnPolicyRoute(
            settings.policy,
            self.small_talk,
            app.prompts,
            app.engine,
            app.store,
            PersonaText(persona),
            manager_settings(app.config).generation,
            languages,
            bot_name=bot.name,
            community_name=bot.community_name,
            history_token_budget=bot.history_token_budget,
            kb=kb,
            answerer=answerer,
        )
        app.routes.insert(0, LanguageRoute(languages, self.small_talk))
        app.routes.append(self.route)

    async def start(self, app: BotApp) -> None:
        """Load the language detector's models now, so the first message is not slowed."""
        if self.route is not None:
            await asyncio.to_thread(default_detector().warm_up)

    async def stop(self) -> None:
        return None
