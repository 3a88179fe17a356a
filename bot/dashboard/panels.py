"""Extra panels on the overview page (insight charts and alerts plug in here without editing the page).

A feature appends an `OverviewPanel` to `OVERVIEW_PANELS`; the overview shows each under its title. A panel
returns `markupsafe.Markup`: it is responsible for escaping anything members wrote (use `markupsafe.escape`).
"""

from __future__ import annotations

from typing import Protocol

from markupsafe import Markup

from bot.store import Store


class OverviewPanel(Protocol):
    """One block on the overview page, e.g. an insight chart."""

    title: str

    def render(self, store: Store) -> Markup:
        """The panel's HTML (escaped by the panel); called on every overview request, so keep it bounded."""


OVERVIEW_PANELS: list[OverviewPanel] = []
