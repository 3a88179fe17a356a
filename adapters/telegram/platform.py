"""Telegram's declaration (entry point `socialbot.platforms: telegram`): what the core knows of it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.telegram.settings import RETIRED_KEYS, TOKEN, TelegramSection
from bot.messages import ConversationKey
from bot.platform import Adapter, PlatformContext, PlatformSpec

if TYPE_CHECKING:
    from bot.config import LoadedConfig
    from bot.reachability import ProbeOptions, Reachability


def create(context: PlatformContext) -> Adapter:
    from adapters.telegram.adapter import create_adapter

    return create_adapter(context)


def configured(config: LoadedConfig) -> bool:
    return spec.secrets_set(config)


def group_reply_mode(config: LoadedConfig) -> str:
    return config.section(TelegramSection).group_reply_mode


def shows_progress(config: LoadedConfig) -> bool:
    return config.section(TelegramSection).show_progress


def message_link(conversation: ConversationKey, message_id: str) -> str:
    """Only supergroups (ids starting with -100) have links that work from any chat (`t.me/c/<id>/<message>`);
    elsewhere the staff message names the conversation instead."""
    if conversation.chat_id.startswith("-100") and message_id.isdigit():
        return f"https://t.me/c/{conversation.chat_id[4:]}/{message_id}"
    return ""


async def check_reachable(config: LoadedConfig, probe: ProbeOptions) -> Reachability:
    """getMe with the configured token: reachable and token accepted. The URL (it holds the token) is never shown."""
    import aiohttp
    from yarl import URL

    from bot.reachability import Reachability, http_status, unreachable

    token = config.secrets.value(TOKEN.key)
    if token is None:
        return Reachability("skip", f"no {TOKEN.env}")
    base = probe.api_base or config.section(TelegramSection).base_url
    where = str(URL(base).with_path("/").with_query(None)).rstrip("/")
    try:
        status = await http_status(probe.session, f"{base}{token.get_secret_value()}/getMe")
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return unreachable(where, exc, probe.timeout_s)
    if status == 200:
        return Reachability("ok", f"{where} reachable, token accepted")
    if status in (401, 404):
        return Reachability("fail", f"{where} rejected the token (HTTP {status})", "get a new token from @BotFather")
    return Reachability("warn", f"{where} answered HTTP {status}", "try again later; see Telegram's status")


spec = PlatformSpec(
    "telegram",
    create,
    configured,
    settings_section="telegram",
    settings_model=TelegramSection,
    secrets=(TOKEN,),
    retired_keys=RETIRED_KEYS,
    check_reachable=check_reachable,
    group_reply_mode=group_reply_mode,
    shows_progress=shows_progress,
    message_link=message_link,
)
