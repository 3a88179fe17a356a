"""Discord's declaration (entry point `socialbot.platforms: discord`): what the core knows of it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.discord.settings import TOKEN, DiscordSection
from bot.platform import Adapter, PlatformContext, PlatformSpec

if TYPE_CHECKING:
    from bot.config import LoadedConfig
    from bot.reachability import ProbeOptions, Reachability
API_BASE = "https://discord.com/api/v10"


def create(context: PlatformContext) -> Adapter:
    from adapters.discord import create_adapter

    return create_adapter(context)


def configured(config: LoadedConfig) -> bool:
    return spec.secrets_set(config)


def group_reply_mode(config: LoadedConfig) -> str:
    return config.section(DiscordSection).guild_reply_mode


def shows_progress(config: LoadedConfig) -> bool:
    return config.section(DiscordSection).show_progress


async def check_reachable(config: LoadedConfig, probe: ProbeOptions) -> Reachability:
    """GET /users/@me with the bot token: reachable and token accepted."""
    import aiohttp
    from yarl import URL

    from bot.reachability import Reachability, http_status, unreachable

    token = config.secrets.value(TOKEN.key)
    if token is None:
        return Reachability("skip", f"no {TOKEN.env}")
    api_base = probe.api_base or API_BASE
    where = str(URL(api_base).with_path("/")).rstrip("/")
    headers = {"Authorization": f"Bot {token.get_secret_value()}"}
    try:
        status = await http_status(probe.session, api_base.rstrip("/") + "/users/@me", headers)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return unreachable(where, exc, probe.timeout_s)
    if status == 200:
        return Reachability("ok", f"{where} reachable, token accepted")
    if status == 401:
        return Reachability(
            "fail", f"{where} rejected the token (HTTP 401)", "reset the bot token in the Developer Portal"
        )
    return Reachability("warn", f"{where} answered HTTP {status}", "try again later; see Discord's status")


# Discord drops a repeated post with the same nonce (enforce_nonce), so an interrupted scheduled post is resent.
spec = PlatformSpec(
    "discord",
    create,
    configured,
    settings_section="discord",
    settings_model=DiscordSection,
    secrets=(TOKEN,),
    check_reachable=check_reachable,
    group_reply_mode=group_reply_mode,
    shows_progress=shows_progress,
    dedupes_posts=True,
)
