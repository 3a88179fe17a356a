"""The owner's report: the period's trends as JSON, PNG charts (matplotlib, Agg) and one HTML page showing both.

Only aggregates appear (per chat and day); no member is named and no member's own sentiment is shown.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.insight.trends import ADDITIVE, TrendRow, Trends, compute_daily_and_weekly
from bot.store import Store

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
CHART_TITLES = {
    "activity.png": "Messages and active members per day",
    "sentiment.png": "Sentiment share per day",
    "toxicity.png": "Toxic messages (share of member messages) per day",
    "questions.png": "Questions per day by outcome",
}


@dataclass(frozen=True)
class ReportFiles:
    """Where a written report lies: the HTML page, the JSON figures and the chart images."""

    html: Path
    json: Path
    charts: tuple[Path, ...]


@dataclass
class InsightReport:
    """The figures of one report: daily trends, weekly trends, and extra sections (topics, gaps)."""

    generated_at: str
    days: int
    daily: Trends
    weekly: Trends
    sections: dict[str, object] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "generated_at": self.generated_at,
            "days": self.days,
            "totals": self.daily.totals().as_json(),
            "daily": self.daily.as_json(),
            "weekly": self.weekly.as_json(),
            **self.sections,
        }


def build_report(store: Store, days: int, now: datetime, toxic_threshold: float = 0.7) -> InsightReport:
    """Daily and weekly trends of the last `days` days up to `now`."""
    since = now - timedelta(days=days)
    trends = compute_daily_and_weekly(store, since, now, toxic_threshold)
    return InsightReport(now.isoformat(), days, trends["day"], trends["week"])


def _by_day(trends: Trends) -> list[TrendRow]:
    """All chats of each day added together, oldest first."""
    merged: dict[str, TrendRow] = {}
    timed: dict[str, float] = defaultdict(float)
    for row in trends.rows:
        day = merged.setdefault(row.bucket, TrendRow("all", row.bucket))
        for name in (*ADDITIVE, "active_members", "returning_members"):
            setattr(day, name, getattr(day, name) + getattr(row, name))
        timed[row.bucket] += (row.mean_response_s or 0.0) * row.replies_timed
    for bucket, day in merged.items():
        day.mean_response_s = timed[bucket] / day.replies_timed if day.replies_timed else None
    return [merged[bucket] for bucket in sorted(merged)]


def render_charts(report: InsightReport, out_dir: Path) -> list[Path]:
    """Four PNG charts of the daily figures (all chats together)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days = _by_day(report.daily)
    labels = [row.bucket[5:] for row in days]
    positions = list(range(len(days)))
    charts: list[Path] = []

    def save(figure: object, name: str) -> None:
        path = out_dir / name
        figure.savefig(path, dpi=100)  # type: ignore[attr-defined]
        plt.close(figure)  # type: ignore[arg-type]
        charts.append(path)

    def axes(title: str) -> tuple[object, object]:
        figure, axis = plt.subplots(figsize=(8, 3.2), layout="constrained")
        axis.set_title(title)
        axis.set_xticks(positions, labels, rotation=45, ha="right", fontsize=8)
        axis.grid(axis="y", alpha=0.3)
        return figure, axis

    figure, axis = axes(CHART_TITLES["activity.png"])
    axis.bar(positions, [row.messages for row in days], color="#4c78a8", label="messages")  # type: ignore[attr-defined]
    twin = axis.twinx()  # type: ignore[attr-defined]
    twin.plot(positions, [row.active_members for row in days], color="#f58518", marker="o", label="active members")
    twin.set_ylim(bottom=0)
    axis.legend(loc="upper left", fontsize=8)  # type: ignore[attr-defined]
    twin.legend(loc="upper right", fontsize=8)
    save(figure, "activity.png")

    figure, axis = axes(CHART_TITLES["sentiment.png"])
    bottom = [0.0] * len(days)
    for name, color in (("negative", "#e45756"), ("neutral", "#bab0ac"), ("positive", "#54a24b")):
        shares = [getattr(row, name) / row.scored if row.scored else 0.0 for row in days]
        axis.bar(positions, shares, bottom=bottom, color=color, label=name)  # type: ignore[attr-defined]
        bottom = [low + share for low, share in zip(bottom, shares, strict=True)]
    axis.set_ylim(0, 1.15)  # type: ignore[attr-defined]
    axis.legend(loc="upper left", fontsize=8, ncols=3)  # type: ignore[attr-defined]
    save(figure, "sentiment.png")

    figure, axis = axes(CHART_TITLES["toxicity.png"])
    axis.plot(positions, [row.toxicity_rate for row in days], color="#b279a2", marker="o")  # type: ignore[attr-defined]
    axis.set_ylim(bottom=0)  # type: ignore[attr-defined]
    save(figure, "toxicity.png")

    figure, axis = axes(CHART_TITLES["questions.png"])
    bottom_counts = [0] * len(days)
    for name, color in (("answered", "#54a24b"), ("declined", "#eeca3b"), ("handoffs", "#e45756")):
        counts = [getattr(row, name) for row in days]
        axis.bar(positions, counts, bottom=bottom_counts, color=color, label=name)  # type: ignore[attr-defined]
        bottom_counts = [low + count for low, count in zip(bottom_counts, counts, strict=True)]
    axis.legend(loc="upper left", fontsize=8, ncols=3)  # type: ignore[attr-defined]
    save(figure, "questions.png")
    return charts


def write_report(report: InsightReport, out_dir: Path) -> ReportFiles:
    """Write `report.json`, the charts and `index.html` into `out_dir` (created if needed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = report.as_json()
    json_path = out_dir / "report.json"
    json_path.write_text(json.dumps(figures, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    charts = render_charts(report, out_dir)
    environment = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(["html", "j2"]))
    html = environment.get_template("report.html.j2").render(
        report=report,
        totals=report.daily.totals(),
        weekly=report.weekly.rows,
        charts=[chart.name for chart in charts],
        sections=report.sections,
    )
    html_path = out_dir / "index.html"
    html_path.write_text(html, encoding="utf-8")
    return ReportFiles(html_path, json_path, tuple(charts))
