"""Community automod: acting on offensive incoming messages (warn, delete, timeout, notify staff)."""
