"""The `socialbot` command line: composes the bot from config and starts adapters (the only place that does)."""
