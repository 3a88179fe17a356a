"""Alerts: a replayed week (calm days, then a bad evening) fires each expected alert once, with examples."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.embeddings import shared_encoder
from bot.insight.alerts import NEGATIVE_SPIKE, QUESTION_BURST, TOXICITY_SURGE, UNANSWERED, AlertMonitor
from bot.insight.privacy import FORGOTTEN_SUMMARY
from bot.insight.repository import InsightRepository
from bot.insight.settings import InsightSection
from bot.privacy.forget import forget_member
from bot.privacy.member import Member
from bot.store import Store
from tests.bot.insight.conftest import History

START = datetime(2026, 11, 2, tzinfo=UTC)
CALM = ["good morning", "thanks for the update", "see you at the meetup", "nice photo", "ok", "sounds good"]
SAME_QUESTION = [
    "is the server down?",
    "is the server down right now?",
    "server down?? is it down",
    "is the server down for everyone?",
    "is the server down again?",
]


def replay_week(store: Store) -> dict[str, list[int]]:
    """Six calm days (a few negatives, nothing toxic), then on day seven from 18:00 a spike of everything."""
    history = History(store)
    rng = random.Random(3)
    for day in range(6):
        for hour in range(8, 22):
            at = START + timedelta(days=day, hours=hour, minutes=rng.randrange(60))
            label = "negative" if rng.random() < 0.1 else rng.choice(["neutral", "positive"])
            history.message(at, rng.choice(CALM), user=f"m{rng.randrange(12)}", label=label)
    spike = START + timedelta(days=6, hours=18)
    ids: dict[str, list[int]] = {"angry": [], "toxic": [], "question": []}
    for minute in range(0, 40, 4):
        ids["angry"].append(
            history.message(
                spike + timedelta(minutes=minute),
                "this is a scam, worst service ever",
                user=f"a{minute}",
                label="negative",
            )
        )
    for minute in range(1, 41, 8):
        ids["toxic"].append(
            history.message(
                spike + timedelta(minutes=minute),
                "you are all idiots",
                user=f"t{minute}",
                label="negative",
                offensive=0.95,
            )
        )
    for index, question in enumerate(SAME_QUESTION):
        ids["question"].append(
            history.message(spike + timedelta(minutes=45 + index), question, user=f"q{index}", outcome="declined")
        )
    return ids


def test_a_replayed_week_fires_exactly_the_expected_alerts_once_each(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    ids = replay_week(store)
    monitor = AlertMonitor(store, InsightSection(), embed=lambda texts: shared_encoder().encode(list(texts)))
    fired: list[tuple[datetime, str]] = []
    alerts = []
    now = START + timedelta(hours=1)
    while now <= START + timedelta(days=7, hours=6):  # the manual clock steps hour by hour through the week
        for alert in monitor.check(now):
            fired.append((now, alert.kind))
            alerts.append(alert)
        now += timedelta(hours=1)

    assert sorted(kind for _, kind in fired) == sorted([NEGATIVE_SPIKE, TOXICITY_SURGE, QUESTION_BURST, UNANSWERED])
    spike_end = START + timedelta(days=6, hours=19)
    assert all(at == spike_end for at, _ in fired), fired
    by_kind = {alert.kind: alert for alert in alerts}
    assert {example.message_id for example in by_kind[TOXICITY_SURGE].examples} <= set(ids["toxic"])
    assert {example.message_id for example in by_kind[QUESTION_BURST].examples} <= set(ids["question"])
    assert {example.message_id for example in by_kind[UNANSWERED].examples} <= set(ids["question"])
    assert "5 members" in by_kind[QUESTION_BURST].summary
    assert all(alert.examples for alert in alerts)
    assert f"#{by_kind[NEGATIVE_SPIKE].examples[0].message_id}:" in by_kind[NEGATIVE_SPIKE].render()
    recorded = store.db.execute("select count(*) from insight_alerts").fetchone()[0]
    assert recorded == 4


def test_an_alert_already_sent_waits_for_its_cooldown(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    replay_week(store)
    settings = InsightSection(alert_window_hours=24, alert_cooldown_hours=3)
    monitor = AlertMonitor(store, settings, embed=None)
    evening = START + timedelta(days=6, hours=19)
    assert {alert.kind for alert in monitor.check(evening)} == {NEGATIVE_SPIKE, TOXICITY_SURGE, UNANSWERED}
    assert monitor.check(evening + timedelta(hours=1)) == []
    assert {alert.kind for alert in monitor.check(evening + timedelta(hours=3))} == {
        NEGATIVE_SPIKE,
        TOXICITY_SURGE,
        UNANSWERED,
    }


def test_calm_days_fire_nothing(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    replay_week(store)
    monitor = AlertMonitor(store, InsightSection(), embed=lambda texts: shared_encoder().encode(list(texts)))
    assert monitor.check(START + timedelta(days=5, hours=20)) == []


def test_each_alert_names_its_id_which_shows_it_and_forget_removes_a_quoted_question(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    replay_week(store)
    monitor = AlertMonitor(store, InsightSection(), embed=lambda texts: shared_encoder().encode(list(texts)))
    alerts = {alert.kind: alert for alert in monitor.check(START + timedelta(days=6, hours=19))}
    burst = alerts[QUESTION_BURST]
    assert burst.alert_id > 0 and f"socialbot insights show {burst.alert_id}" in burst.render()
    quoted = burst.summary.split('"')[1]
    assert quoted in SAME_QUESTION

    repository = InsightRepository(store)
    shown = repository.alert(burst.alert_id)
    assert shown is not None and shown.chat == burst.chat and shown.summary == burst.summary
    assert [example.message_id for example in shown.examples] == [e.message_id for e in burst.examples]
    assert all(example.text in SAME_QUESTION for example in shown.examples)
    assert repository.alert(9999) is None

    asker = store.db.execute(
        "select u.platform, u.platform_user_id from messages m join users u on u.id = m.user_id where m.id = ?",
        [burst.examples[0].message_id],
    ).fetchone()
    forget_member(store, Member(asker[0], asker[1]))
    after = repository.alert(burst.alert_id)
    assert after is not None and after.summary == FORGOTTEN_SUMMARY and quoted not in after.summary
    assert after.examples[0].text is None  # the forgotten member's question is gone
    negative = repository.alert(alerts[NEGATIVE_SPIKE].alert_id)
    assert negative is not None and negative.summary == alerts[NEGATIVE_SPIKE].summary  # others' alerts unchanged
