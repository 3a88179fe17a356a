"""Content suggestions as a feature: `/suggest`, `/drafts`, `/draft` over the model, gate and draft store.

Scheduling posts approved drafts; it needs no suggestion service, and this feature needs no scheduler.
"""

from __future__ import annotations

from bot.config import LoadedConfig
from bot.plugin import BaseFeature, FeatureContext
from bot.suggest.commands import SuggestCommands
from bot.suggest.drafts import DraftStore
from bot.suggest.generator import SuggestionService, SuggestSettings, Voice
from bot.suggest.settings import SuggestSection


def suggest_settings(config: LoadedConfig) -> SuggestSettings:
    return SuggestSettings(**config.section(SuggestSection).model_dump())


def voice(config: LoadedConfig) -> Voice:
    bot = config.settings.bot
    return Voice(bot_name=bot.name, community_name=bot.community_name, tone=bot.tone)


class SuggestFeature(BaseFeature):
    """Drafts posts about a topic in the community's voice, for a person to edit and approve."""

    name = "suggest"

    def __init__(self) -> None:
        self.suggestions: SuggestionService | None = None
        self.drafts: DraftStore | None = None

    def install(self, context: FeatureContext) -> None:
        self.drafts = DraftStore(context.store)
        self.suggestions = SuggestionService(
            context.engine,
            context.gate,
            context.prompts,
            context.store,
            suggest_settings(context.config),
            voice(context.config),
        )
        context.services.provide(self.suggestions)
        for command in SuggestCommands(self.suggestions).commands():
            context.add_command(command)

    def forget_user(self, platform: str, user_id: str) -> int:
        """Drafts stay (they are the community's posts), but not who asked for them."""
        return self.drafts.forget_author(f"{platform}:{user_id}") if self.drafts is not None else 0
