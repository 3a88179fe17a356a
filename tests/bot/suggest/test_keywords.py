"""Recent topics: the words people used in the most messages of the last days, nothing older."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.messages import Author, ConversationKey
from bot.store import Store
from bot.suggest.keywords import extract_keywords, recent_topics


def test_keywords_rank_words_by_how_many_messages_use_them() -> None:
    texts = [
        "The pottery class was great",
        "pottery pottery pottery!",
        "Is the pottery kiln fixed?",
        "kiln repair costs",
        "I think the weather is nice",
    ]
    assert extract_keywords(texts, top=3) == ["pottery", "kiln"]


def test_stopwords_and_short_words_are_ignored() -> None:
    assert extract_keywords(["the and you we it is", "the and you we it is"]) == []


def test_only_the_recent_window_of_user_messages_is_read() -> None:
    store = Store.open(":memory:")
    conversation = store.conversation_id(ConversationKey("telegram", "1"))
    user = store.upsert_user("telegram", Author("u1"))
    for text in ["Board games night?", "board games again", "/suggest board games"]:
        store.insert_message(conversation, "user", text, "answered", user_id=user)
    old = store.insert_message(conversation, "user", "ancient history history", "answered", user_id=user)
    store.insert_message(conversation, "user", "history buffs unite", "answered", user_id=user)
    store.db.execute(
        "update messages set created_at = ? where id >= ?", [(datetime.now(UTC) - timedelta(days=30)).isoformat(), old]
    )
    store.insert_message(conversation, "assistant", "board games board games", "sent")

    assert recent_topics(store, days=7) == ["board", "games"]
    plan = " ".join(
        str(row)
        for row in store.db.query(
            "explain query plan select text from messages where created_at >= ? and role = 'user' "
            "and text not like '/%' order by created_at desc limit 10",
            ["x"],
        )
    )
    assert "idx_messages_created_at" in plan
    store.close()
