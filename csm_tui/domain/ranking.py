"""Attention priority and the short reason chips that say why an account is on top.

priority = value × (0.45 risk + 0.20 momentum + 0.20 urgency + 0.15 neglect) + 10 for an overdue
next step + 10 for an open escalation, capped at 100 (docs/ARCHITECTURE.md). Win-back accounts
are not daily work: priority 0.

Momentum is the larger of the health's 4-week drop and the usage cliff (recent weeks against the
baseline), so a touch, which moves health through relationship and sentiment only, never hides a
usage decline. Three risks are always in the chips whatever else competes: a renewal within 30
days, an open escalation, a usage cliff.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from csm_tui.domain.vocabulary import GREEN

MAX_CHIPS = 4
CLIFF = -0.5  # usage down 50% or more vs the baseline: always said


@dataclass(frozen=True, slots=True)
class PriorityInput:
    """What the priority of one account reads."""

    health: int | None
    band: str | None
    trend: int | None  # health points over 4 weeks (negative: fell)
    renewal_date: date | None
    last_touch: date | None
    cadence_days: int
    arr_share: float  # ARR percentile in the book, 0-1
    overdue_steps: int = 0
    oldest_overdue_days: int = 0
    stage: str = ""
    cause_chip: str = ""  # the biggest losing driver, in a few words
    opportunity: bool = False
    dropped: bool = False
    escalations: int = 0  # open escalated or urgent tickets
    usage_change: float | None = None  # recent usage vs the baseline, -0.82 for -82%


@dataclass(frozen=True, slots=True)
class Priority:
    """An attention priority (0-100) and its chips, largest factor first."""

    value: float
    chips: tuple[str, ...]


def arr_share(arr: float, book: Sequence[float]) -> float:
    """ARR percentile within the book (``book`` sorted, including this account), 0-1."""
    if len(book) <= 1:
        return 1.0
    below = bisect_left(book, arr)
    equal = bisect_right(book, arr) - below
    return min(1.0, max(0.0, (below + 0.5 * max(equal - 1, 0)) / (len(book) - 1)))


def urgency(renewal_date: date | None, today: date) -> float:
    """100 / 70 / 40 for a renewal within 30 / 60 / 90 days, else 0."""
    if renewal_date is None:
        return 0.0
    days = (renewal_date - today).days
    if days < 0:
        return 0.0
    return 100.0 if days <= 30 else 70.0 if days <= 60 else 40.0 if days <= 90 else 0.0


def attention(item: PriorityInput, today: date) -> Priority:
    """The account's priority and reason chips as of ``today``."""
    if item.stage == "Win-back":
        return Priority(0.0, ("Win-back",))
    value = 0.6 + 0.4 * item.arr_share
    risk = 100.0 - (item.health if item.health is not None else 50)
    drop = max(0, -(item.trend or 0))
    cliff = item.usage_change is not None and item.usage_change <= CLIFF
    usage_fall = max(0.0, -(item.usage_change or 0.0))
    momentum = min(100.0, max(drop * 5.0, usage_fall * 120.0 if usage_fall >= 0.3 else 0.0))
    urgent = urgency(item.renewal_date, today)
    cadence = max(1, item.cadence_days)
    if item.last_touch is None:
        neglect = 100.0
        since = None
    else:
        since = (today - item.last_touch).days
        neglect = min(100.0, max(0.0, 100.0 * (since - cadence) / cadence))
    step_bonus = 10.0 if item.overdue_steps else 0.0
    escalation_bonus = 10.0 if item.escalations else 0.0
    raw = (
        value * (0.45 * risk + 0.20 * momentum + 0.20 * urgent + 0.15 * neglect)
        + step_bonus
        + escalation_bonus
    )
    score = round(min(100.0, max(0.0, raw)), 2)

    chips: list[tuple[float, str]] = []
    always: list[str] = []  # risks never cut from the chips (short: they must fit 80 columns)
    if urgent and item.renewal_date is not None:
        days = (item.renewal_date - today).days
        text = "Renews today" if days == 0 else f"Renews in {days} d"
        if days <= 30:
            always.append(text)
        else:
            chips.append((value * 0.20 * urgent, text))
    if item.escalations:
        always.append(
            "Escalation open" if item.escalations == 1 else f"{item.escalations} escalations"
        )
    if cliff:
        always.append(f"Usage −{round(usage_fall * 100)}%")
    if item.health is not None and (item.band != GREEN or drop >= 5):
        text = f"Health {item.health}"
        if drop >= 5:
            text += f" (−{drop} in 4 wk)"
        chips.append((value * (0.45 * risk + 0.20 * momentum), text))
    if neglect > 0:
        text = "Never touched" if since is None else f"No touch {since} d"
        chips.append((value * 0.15 * neglect, text))
    if item.overdue_steps:
        text = (
            f"Step overdue {item.oldest_overdue_days} d"
            if item.overdue_steps == 1
            else f"{item.overdue_steps} steps overdue"
        )
        chips.append((step_bonus, text))
    chips.sort(key=lambda c: -c[0])
    texts = always + [t for _, t in chips[:3]]
    said = " ".join(texts).lower()
    cause = item.cause_chip
    if (
        cause
        and item.band != GREEN
        and cause not in texts
        and not (cliff and "usage" in cause.lower())  # the cliff chip says it already
        and not ("escalat" in cause.lower() and "escalat" in said)
    ):
        texts.append(cause)
    # The always-said risks come first, so the cut never takes them.
    texts = texts[: max(MAX_CHIPS, len(always))]
    if item.opportunity:
        texts.append("Expansion-ready")
    return Priority(score, tuple(texts))
