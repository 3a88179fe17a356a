"""The owner's web dashboard: server-rendered pages over the bot's own library APIs (no JavaScript).

Importing this package is cheap (no aiohttp, no Jinja): the dashboard's spec reads `DashboardSection` from it.
"""


class DashboardError(Exception):
    """A dashboard action the owner asked for could not be done; the message says why, for the page."""
