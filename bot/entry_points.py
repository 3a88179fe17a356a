"""Loading the objects installed packages declare in socialbot's entry point groups (no other bot import,
so the config loader and the registry can both use it)."""

from __future__ import annotations

import sys
from functools import cache
from importlib.metadata import EntryPoint, entry_points

FEATURE_GROUP = "socialbot.features"
PLATFORM_GROUP = "socialbot.platforms"


class PluginError(Exception):
    """A declared feature or platform cannot be loaded (named, with the entry point and the reason)."""


def unique_entry_points(group: str) -> list[EntryPoint]:
    """The group's entry points, once per name (a distribution visible twice on the path: first wins)."""
    seen: dict[str, EntryPoint] = {}
    for point in entry_points(group=group):
        seen.setdefault(point.name, point)
    return list(seen.values())


def load_declared(group: str) -> list[tuple[EntryPoint, object]]:
    """Every entry point of `group` with the object it names, loaded; a failure names the entry point.

    Cached per import path (scanning every installed distribution takes about 0.1 s): a package put on
    `sys.path` later is found."""
    return list(_load_declared(group, tuple(sys.path)))


@cache
def _load_declared(group: str, path: tuple[str, ...]) -> tuple[tuple[EntryPoint, object], ...]:
    loaded = []
    for point in unique_entry_points(group):
        try:
            loaded.append((point, point.load()))
        except Exception as exc:
            raise PluginError(f"{group} entry point '{point.name}' ({point.value}) cannot be loaded: {exc}") from exc
    return tuple(loaded)
