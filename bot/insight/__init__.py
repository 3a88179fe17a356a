"""Community insight: sentiment of every incoming message, trends, alerts, topics, knowledge gaps and reports.

Everything here reads the bot's own database; nothing needs the training data at run time.
"""


class InsightError(Exception):
    """An insight model or report could not be loaded or built; the message says which file and why."""
