"""Installed distributions made by hand: a module plus `<name>.dist-info/` with `METADATA` and
`entry_points.txt`, exactly the files pip writes, in a folder put on `sys.path` (what a `pip install` into
site-packages amounts to, without the minutes a real install takes)."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from bot import plugin_registry


def write_distribution(
    site: Path, name: str, version: str, files: Mapping[str, str], entry_points: Mapping[str, Mapping[str, str]]
) -> list[Path]:
    """Write the distribution's files under `site`; returns every file written (what adding it touches)."""
    written = []
    for relative, text in files.items():
        path = site / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    groups = "".join(
        f"[{group}]\n" + "".join(f"{key} = {value}\n" for key, value in points.items()) + "\n"
        for group, points in entry_points.items()
    )
    (info / "entry_points.txt").write_text(groups, encoding="utf-8")
    return [*written, info / "METADATA", info / "entry_points.txt"]


@contextmanager
def installed(site: Path) -> Iterator[None]:
    """`site` on the import path (and the registry's caches cleared) for the duration."""
    sys.path.insert(0, str(site))
    plugin_registry.refresh()
    try:
        yield
    finally:
        sys.path.remove(str(site))
        for module in [
            name for name, module in sys.modules.items() if str(site) in str(getattr(module, "__file__", ""))
        ]:
            del sys.modules[module]
        plugin_registry.refresh()
