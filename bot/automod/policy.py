"""Which actions an offence earns: severity from the gate's scores, escalated for repeat offenders."""

from __future__ import annotations

from dataclasses import dataclass

from bot.moderation.gate import ModerationDecision

# Escalation ladder, by level. Each level's actions include the lower levels' visible effect.
LADDER: tuple[tuple[str, ...], ...] = (
    ("log",),
    ("log", "warn"),
    ("log", "delete", "warn"),
    ("log", "delete", "timeout", "notify"),
    ("log", "delete", "timeout", "notify"),
)


@dataclass(frozen=True)
class AutomodPolicy:
    """Thresholds and escalation settings (from the `[automod]` config section)."""

    warn_threshold: float = 0.7
    delete_threshold: float = 0.85
    timeout_threshold: float = 0.95
    timeout_minutes: int = 10
    repeat_timeout_minutes: int = 60
    escalation_window_minutes: int = 1440
    mode: str = "full"  # "off", "log", "warn" (no deletes/timeouts) or "full"


@dataclass(frozen=True)
class AutomodVerdict:
    """The actions chosen for one flagged message, and why."""

    level: int
    actions: tuple[str, ...]
    timeout_minutes: int = 0


def severity(decision: ModerationDecision, policy: AutomodPolicy) -> int:
    """0 (not actionable) to 3, from the gate's scores and rule hits on an incoming message."""
    if any(reason == "blocklist" or reason.startswith(("pattern:", "wordlist:")) for reason in decision.reasons):
        return 2
    score = max((value for name, value in decision.scores.items() if "offensive" in name), default=0.0)
    if score >= policy.timeout_threshold:
        return 3
    if score >= policy.delete_threshold:
        return 2
    if score >= policy.warn_threshold:
        return 1
    return 0


def decide(decision: ModerationDecision, prior_offences: int, policy: AutomodPolicy) -> AutomodVerdict | None:
    """The verdict for a flagged message given the author's recent offences in this chat; None to do nothing."""
    if policy.mode == "off":
        return None
    base = severity(decision, policy)
    if base == 0:
        return None
    level = min(len(LADDER) - 1, base + prior_offences)
    actions = LADDER[level]
    if policy.mode == "log":
        actions = ("log",)
    elif policy.mode == "warn":
        actions = tuple(action for action in actions if action in ("log", "warn", "notify")) or ("log",)
        if "warn" not in actions:
            actions = (*actions, "warn")
    minutes = 0
    if "timeout" in actions:
        minutes = policy.repeat_timeout_minutes if level >= len(LADDER) - 1 else policy.timeout_minutes
    return AutomodVerdict(level, actions, minutes)
