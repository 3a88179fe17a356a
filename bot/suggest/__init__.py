"""Content suggestions: the model drafts posts for the community, people edit, approve or reject them."""

from __future__ import annotations


class SuggestError(Exception):
    """A suggestion or draft operation could not be done; the message says what to fix."""
