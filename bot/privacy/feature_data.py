"""What installed features hold about a member beyond the tables the registry knows: their own hooks.

A feature from another package keeps its data where it likes; it promises `export_user` and `forget_user`
(`bot.plugin.Feature`). Export and forget, from the chat and from `socialbot privacy`, ask every installed
feature through those hooks, so a plug-in's data leaves with the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from bot.plugin import Feature
from bot.privacy.member import Member

log = logging.getLogger(__name__)


def feature_exports(features: Sequence[Feature], member: Member) -> dict[str, list[dict[str, Any]]]:
    """Each feature's `export_user` rows about `member`, by feature name (features with nothing are left out)."""
    exported: dict[str, list[dict[str, Any]]] = {}
    for feature in features:
        rows = feature.export_user(member.platform, member.platform_user_id)
        if rows:
            exported[feature.name] = list(rows)
    return exported


def forget_in_features(features: Sequence[Feature], member: Member) -> dict[str, int]:
    """Run every feature's `forget_user` for `member`; the items each removed, by feature name (zeros left out).

    Every hook runs even when one fails (the failure is logged and raised after the others ran), so one
    broken plug-in never leaves the rest of a member's data behind."""
    changed: dict[str, int] = {}
    failures: list[tuple[str, Exception]] = []
    for feature in features:
        try:
            count = feature.forget_user(member.platform, member.platform_user_id)
        except Exception as exc:
            log.exception("feature %s failed to forget a member", feature.name)
            failures.append((feature.name, exc))
            continue
        if count:
            changed[feature.name] = count
    if failures:
        names = ", ".join(name for name, _ in failures)
        raise ForgetIncomplete(f"these features could not forget the member: {names}") from failures[0][1]
    return changed


class ForgetIncomplete(Exception):
    """One or more features' `forget_user` hooks failed; the others ran."""
