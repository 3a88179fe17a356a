"""What `socialbot doctor` asks a platform: is it reachable, and does it accept the configured token?

Each platform answers in its own `PlatformSpec.check_reachable` with a `Reachability`; the doctor runs them
together under one timeout and never learns a platform's URL or token format. The URL of a request may hold
a token, so a result names only where it went (scheme and host), never the URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import aiohttp

CheckStatus = Literal["ok", "warn", "fail", "skip"]


@dataclass(frozen=True)
class Reachability:
    """One platform's finding: how it went and (unless ok) what the operator should do."""

    status: CheckStatus
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class ProbeOptions:
    """What a platform check may use: the doctor's HTTP session (with its timeout) and, for a proxy or a test
    server, the API base URL to ask instead of the platform's own (empty: the platform's default)."""

    session: aiohttp.ClientSession
    timeout_s: float
    api_base: str = ""


async def http_status(session: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None) -> int:
    """The HTTP status of a GET (the body is read and dropped)."""
    async with session.get(url, headers=headers) as response:
        await response.read()
        return response.status


def unreachable(where: str, exc: BaseException, timeout_s: float) -> Reachability:
    """The finding for a request that got no answer: a timeout, or a network error named by its type."""
    reason = f"no answer within {timeout_s:g} s" if isinstance(exc, TimeoutError) else type(exc).__name__
    return Reachability("fail", f"cannot reach {where}: {reason}", f"check the network, DNS and any proxy to {where}")
