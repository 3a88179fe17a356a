"""Page timings on a large database: fill a temporary bot with N messages and time every dashboard page.

The target is 300 ms per page with 100,000 stored messages. Requests go over loopback HTTP to the real
application (login, session, templates), so the figure is what a browser would wait for the HTML.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bot.dashboard.settings import DashboardSection

TARGET_MS = 300.0
WORDS = [
    "order",
    "delivery",
    "refund",
    "opening",
    "hours",
    "price",
    "menu",
    "event",
    "meetup",
    "ticket",
    "discount",
    "parking",
    "booking",
    "table",
    "vegan",
    "gift",
    "card",
    "shipping",
    "return",
    "size",
    "colour",
    "weekend",
    "coupon",
    "newsletter",
    "app",
    "account",
    "password",
]
PASSWORD = "benchmark password 123"


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 16))).capitalize() + rng.choice(".?!")


def fill(store: Any, messages: int, seed: int = 7) -> dict[str, int]:
    """Insert `messages` messages (half members', half the bot's replies) over 30 days, with members,
    chats, automod actions, tickets, drafts and schedules in proportion. Returns what was made."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    members = max(10, messages // 50)
    chats = max(5, messages // 200)
    with store.transaction() as db:
        conn = db.conn
        conn.executemany(
            "insert into users (platform, platform_user_id, display_name, username, is_bot, first_seen, last_seen) "
            "values (?, ?, ?, ?, 0, ?, ?)",
            [
                (
                    "telegram",
                    str(1000 + index),
                    f"Member {index}",
                    f"member{index}",
                    (now - timedelta(days=30)).isoformat(),
                    (now - timedelta(minutes=index)).isoformat(),
                )
                for index in range(members)
            ],
        )
        conn.executemany(
            "insert into conversations (platform, chat_id, thread_id, created_at, reset_at) values (?, ?, '', ?, 0)",
            [("telegram", str(-100_000 - index), (now - timedelta(days=30)).isoformat()) for index in range(chats)],
        )
        rows: list[tuple[int, int | None, str, str, str, str, str, str, str | None]] = []
        moments = sorted(now - timedelta(seconds=rng.randint(0, 30 * 86400)) for _ in range(messages // 2))
        for index, moment in enumerate(moments):
            chat, user = rng.randint(1, chats), rng.randint(1, members)
            platform_id = str(index + 1)
            rows.append((chat, user, "user", _sentence(rng), moment.isoformat(), platform_id, "", "answered", None))
            rows.append(
                (
                    chat,
                    None,
                    "assistant",
                    _sentence(rng),
                    (moment + timedelta(seconds=2)).isoformat(),
                    f"r{platform_id}",
                    platform_id,
                    "sent",
                    "lm",
                )
            )
        conn.executemany(
            "insert into messages (conversation_id, user_id, role, text, created_at, platform_message_id, "
            "reply_to_message_id, status, source) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        actions = max(1, messages // 200)
        conn.executemany(
            "insert into automod_actions (conversation_id, message_id, platform_message_id, platform_user_id, level, "
            "actions, reasons, scores, text, created_at, undone_at, undone_by, reversal_pending, wrong) "
            "values (?, ?, ?, ?, 2, '[\"delete\"]', '[\"offensive\"]', '{\"offensive\": 0.9}', ?, ?, null, null, 0, 0)",
            [
                (
                    rng.randint(1, chats),
                    index * 2 + 1,
                    str(index),
                    str(1000 + rng.randint(0, members - 1)),
                    _sentence(rng),
                    (now - timedelta(minutes=index)).isoformat(),
                )
                for index in range(actions)
            ],
        )
        conn.executemany(
            "insert into tickets (conversation_id, user_id, user_name, status, summary, opened_message_id, opened_at, "
            "closed_at, closed_by) values (?, ?, ?, ?, ?, '', ?, '', '')",
            [
                (
                    rng.randint(1, chats),
                    rng.randint(1, members),
                    f"Member {index}",
                    "open" if index % 3 else "closed",
                    "Request: " + _sentence(rng),
                    (now - timedelta(hours=index)).isoformat(),
                )
                for index in range(100)
            ],
        )
    return {"messages": (messages // 2) * 2, "members": members, "chats": chats, "automod_actions": actions}


def fill_content(app: Any) -> None:
    """Drafts, schedules, rules and knowledge-base documents (through their own APIs)."""
    from bot.dashboard.services import DashboardServices
    from bot.messages import ConversationKey

    services = DashboardServices(app.context, engine_ready=False)
    scheduling, kb = services.scheduling, services.kb
    assert scheduling is not None and scheduling.service is not None and kb is not None and kb.kb is not None
    drafts = scheduling.service.drafts
    for index in range(30):
        draft = drafts.add(f"Draft post number {index}: come and see our weekend event!", topic="weekend")
        if index < 10:
            drafts.approve(draft.id)
            scheduling.service.schedule(draft.id, ConversationKey("telegram", "-100000"), f"daily {8 + index}:00")
    rules = services.rules
    assert rules is not None and rules.repository is not None
    from bot.rules.model import Rule

    for index in range(200):
        rules.repository.add(
            Rule("keyword", (f"{WORDS[index % len(WORDS)]} {index}",), f"Auto-reply number {index}."), "bench"
        )
    from bot.kb.documents import parse_markdown

    for index in range(5):
        text = f"# Topic {index}\n\n" + "\n\n".join(f"## Part {part}\n\n" + " ".join(WORDS) for part in range(8))
        kb.kb.add_document(parse_markdown(text, f"bench-{index}.md", f"Topic {index}"))


async def run_bench(
    messages: int, repeat: int = 5, progress: Callable[[str], None] = lambda line: None
) -> dict[str, Any]:
    from bot.app import BotApp
    from bot.config import load_config
    from bot.dashboard.services import DashboardServices
    from bot.dashboard.site import create_app
    from bot.engine.fake import ScriptedEngine
    from bot.moderation.gate import GatePolicy, ModerationGate

    with tempfile.TemporaryDirectory() as folder:
        config_path = Path(folder) / "socialbot.toml"
        config_path.write_text('[bot]\ndatabase = "bench.db"\n[kb]\nanswerability_judge = false\n', encoding="utf-8")
        config = load_config(config_path, environ={"SOCIALBOT_DASHBOARD_PASSWORD": PASSWORD})
        app = BotApp.build(config, engine=ScriptedEngine(), gate=ModerationGate(GatePolicy()))
        progress(f"generating {messages:,} messages…")
        started = time.perf_counter()
        made = fill(app.store, messages)
        fill_content(app)
        progress(f"generated in {time.perf_counter() - started:.1f} s; timing pages ({repeat} requests each)…")
        services = DashboardServices(app.context, engine_ready=False)
        web_app = create_app(services, config.section(DashboardSection), Path(folder) / "uploads")
        client = TestClient(TestServer(web_app, host="127.0.0.1"))
        await client.start_server()
        try:
            timings = await _time_pages(client, app, repeat, progress)
        finally:
            await client.close()
            app.store.close()
    worst = max(timing["median_ms"] for timing in timings)
    return {
        "data": made,
        "repeat": repeat,
        "target_ms": TARGET_MS,
        "pages": timings,
        "worst_median_ms": worst,
        "all_within_target": worst <= TARGET_MS,
    }


async def _time_pages(
    client: TestClient[Any, Any], app: Any, repeat: int, progress: Callable[[str], None]
) -> list[dict[str, Any]]:
    import re

    login_form = await (await client.get("/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', login_form)
    assert token is not None
    response = await client.post("/login", data={"csrf_token": token.group(1), "password": PASSWORD})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', await response.text())
    assert csrf is not None, "login failed"
    busiest_member = next(
        app.store.db.query(
            "select user_id from messages where user_id is not null group by user_id order by count(*) desc limit 1"
        )
    )["user_id"]
    pages: list[tuple[str, str, dict[str, str] | None]] = [
        ("overview", "/", None),
        ("conversations", "/conversations", None),
        ("conversations page 20", "/conversations?page=20", None),
        ("search (common word)", "/conversations?q=refund", None),
        ("search (no match)", "/conversations?q=zebra-crossing", None),
        ("member history", f"/members/{busiest_member}", None),
        ("member history page 3", f"/members/{busiest_member}?page=3", None),
        ("one chat", "/conversations/1", None),
        ("knowledge base", "/kb", None),
        ("knowledge base: try a question", "/kb/try", {"question": "When is the weekend event?"}),
        ("rules", "/rules", None),
        ("drafts & schedule", "/content", None),
        ("moderation", "/moderation", None),
        ("tickets", "/tickets", None),
        ("one ticket", "/tickets/2", None),
        ("settings", "/settings", None),
    ]
    timings = []
    for name, path, form in pages:
        samples = []
        for attempt in range(repeat + 1):  # the first request warms caches and is not counted
            started = time.perf_counter()
            if form is None:
                response = await client.get(path)
            else:
                response = await client.post(path, data={"csrf_token": csrf.group(1), **form})
            await response.read()
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status == 200, f"{path}: HTTP {response.status}"
            if attempt:
                samples.append(elapsed)
        timing = {
            "page": name,
            "path": path,
            "median_ms": round(statistics.median(samples), 1),
            "max_ms": round(max(samples), 1),
        }
        progress(f"  {name}: {timing['median_ms']} ms")
        timings.append(timing)
    return timings


def format_bench(result: dict[str, Any]) -> str:
    data = result["data"]
    lines = [
        f"dashboard pages with {data['messages']:,} messages, {data['members']:,} members, {data['chats']:,} chats "
        f"(median of {result['repeat']} requests; target {result['target_ms']:.0f} ms)",
        f"{'page':34} {'median':>9} {'max':>9}",
    ]
    for timing in result["pages"]:
        flag = "" if timing["median_ms"] <= result["target_ms"] else "  OVER TARGET"
        lines.append(f"{timing['page']:34} {timing['median_ms']:>7.1f}ms {timing['max_ms']:>7.1f}ms{flag}")
    verdict = "all pages within target" if result["all_within_target"] else "some pages are over the target"
    lines.append(f"worst median {result['worst_median_ms']:.1f} ms: {verdict}")
    return "\n".join(lines)
