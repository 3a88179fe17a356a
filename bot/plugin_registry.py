"""Finding features and platforms: the `socialbot.features` and `socialbot.platforms` entry point groups.

The built-in ones are declared in pyproject.toml like any separately installed package's, so the core
holds no list of them and a new package adds itself by declaring an entry point. Each entry point names a
`FeatureSpec` (or `PlatformSpec`); loading one imports only its light declaration module.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import TYPE_CHECKING, TextIO

from bot.entry_points import FEATURE_GROUP, PLATFORM_GROUP, PluginError, load_declared
from bot.plugin import FeatureSpec

if TYPE_CHECKING:
    from bot.platform import ChatSession, PlatformContext, PlatformSpec

log = logging.getLogger(__name__)


def _load(group: str, kind: type[object]) -> list[object]:
    declared = []
    for point, value in load_declared(group):
        if not isinstance(value, kind):
            raise PluginError(f"{group} entry point '{point.name}' ({point.value}) is not a {kind.__name__}")
        declared.append(value)
    return declared


@cache
def feature_specs() -> tuple[FeatureSpec, ...]:
    """Every installed feature's declaration, in install order: a feature comes after those it names in
    `after`, otherwise by name."""
    specs: dict[str, FeatureSpec] = {}
    for spec in _load(FEATURE_GROUP, FeatureSpec):
        assert isinstance(spec, FeatureSpec)
        specs[spec.name] = spec
    if not specs:
        raise PluginError(
            f"no features are declared in the '{FEATURE_GROUP}' entry point group: the socialbot install is "
            "incomplete or stale (reinstall it: pip install -e . or pip install socialbot)"
        )
    return tuple(_install_order(specs))


def _install_order(specs: dict[str, FeatureSpec]) -> list[FeatureSpec]:
    ordered: list[FeatureSpec] = []
    placed: set[str] = set()

    def place(spec: FeatureSpec, path: tuple[str, ...]) -> None:
        if spec.name in placed:
            return
        if spec.name in path:
            raise PluginError(f"features {' -> '.join((*path, spec.name))} name each other in `after`")
        for name in sorted(spec.after):
            if name in specs:
                place(specs[name], (*path, spec.name))
        placed.add(spec.name)
        ordered.append(spec)

    for name in sorted(specs):
        place(specs[name], ())
    return ordered


@cache
def platform_specs() -> tuple[PlatformSpec, ...]:
    """Every installed platform's declaration, by name."""
    from bot.platform import PlatformSpec

    specs = []
    for spec in _load(PLATFORM_GROUP, PlatformSpec):
        assert isinstance(spec, PlatformSpec)
        specs.append(spec)
    return tuple(sorted(specs, key=lambda spec: spec.name))


def platform_spec(name: str) -> PlatformSpec | None:
    return next((spec for spec in platform_specs() if spec.name == name), None)


def open_chat(
    context: PlatformContext, chat_id: str, input_stream: TextIO | None = None, output_stream: TextIO | None = None
) -> ChatSession:
    """A terminal session on one conversation, from the first installed interactive platform (standard input
    and output unless streams are given)."""
    for spec in platform_specs():
        if spec.open_chat is not None:
            return spec.open_chat(context, chat_id, input_stream, output_stream)
    raise PluginError(f"no interactive platform is installed in '{PLATFORM_GROUP}' (the console)")


def refresh() -> None:
    """Forget what was found (a package was installed or put on the path while running: tests)."""
    feature_specs.cache_clear()
    platform_specs.cache_clear()
