"""Scheduled posting: approved drafts or literal texts posted to a chat at a time or on a recurrence,
exactly once per planned slot, with the bot's own SQLite outbox as the source of truth."""

from __future__ import annotations


class SchedulingError(Exception):
    """A schedule could not be created or changed; the message says what to fix."""
