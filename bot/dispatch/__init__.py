"""One way out: the dispatcher (`bot.dispatch.dispatcher`), the per-platform transport contract it posts
through (`bot.dispatch.transport`) and the `[delivery]` settings (`bot.dispatch.settings`)."""
