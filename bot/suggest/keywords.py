"""What the community talked about lately: the most discussed words of the last days of stored messages.

Only the window is read (an indexed range on `created_at`, capped at a row limit), never the whole table.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

from bot.store import Store

WORD = re.compile(r"[^\W\d_][\w'-]{2,}")
STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been before being
    below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during
    each few for from further get got had hadn't has hasn't have haven't having he he'd he'll he's her here
    here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself
    just know let's like lol make me more most mustn't my myself no nor not now of off ok okay on once only or
    other ought our ours ourselves out over own please really same say see shan't she she'd she'll she's should
    shouldn't so some such thank thanks than that that's the their theirs them themselves then there there's
    these they they'd they'll they're they've think this those through to too under until up us very want was
    wasn't we we'd we'll we're we've well were weren't what what's when when's where where's which while who
    who's whom why why's will with won't would wouldn't yeah yes yet you you'd you'll you're you've your yours
    yourself yourselves going one two also still much many good great hello hey thing things time way even
    back any anyone something anything someone everyone people guys day today tomorrow yesterday need use
    """.split()  # noqa: SIM905 - a word list reads better as text
)


def extract_keywords(texts: list[str], top: int = 5, min_messages: int = 2) -> list[str]:
    """The words appearing in the most messages (each message counts a word once), stopwords left out."""
    counts: Counter[str] = Counter()
    for text in texts:
        words = {word.strip("'-") for word in WORD.findall(text.lower())}
        counts.update(word for word in words if len(word) > 2 and word not in STOPWORDS)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [word for word, count in ranked[:top] if count >= min_messages]


def recent_topics(
    store: Store, days: float = 7.0, max_messages: int = 2000, top: int = 5, now: datetime | None = None
) -> list[str]:
    """Most discussed keywords in people's messages of the last `days`, from at most `max_messages` rows."""
    since = ((now or datetime.now(UTC)) - timedelta(days=days)).isoformat()
    rows = store.db.query(
        "select text from messages where created_at >= ? and role = 'user' and text not like '/%' "
        "order by created_at desc limit ?",
        [since, max_messages],
    )
    return extract_keywords([row["text"] for row in rows], top=top)
