"""Platform adapters: translate platform events to and from socialbot's normalized messages."""
