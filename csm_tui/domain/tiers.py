"""Coverage tiers: high-touch / pooled / tech-touch by ARR, and their touch cadences.

By default the top 20% of the book by ARR is high-touch and the next 50% pooled; ARR amounts may
be set instead. An account with top-decile use per seat is never left in tech-touch: it is the
kind a human should meet.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

HIGH, POOLED, TECH = "high-touch", "pooled", "tech-touch"
DEFAULT_CADENCE = {HIGH: 14, POOLED: 30, TECH: 90}
TOP_USAGE_SHARE = 0.10


@dataclass(frozen=True, slots=True)
class TierInput:
    """What tiering reads of an account."""

    id: str
    name: str
    arr: float
    per_seat: float = 0.0


@dataclass(frozen=True, slots=True)
class TierRules:
    """Shares of the book by ARR, or ARR amounts when set."""

    high_touch_share: float = 0.20
    pooled_share: float = 0.50
    high_touch_min_arr: float | None = None
    pooled_min_arr: float | None = None


def assign_tiers(
    accounts: Sequence[TierInput], rules: TierRules | None = None
) -> dict[str, tuple[str, str]]:
    """Each account's tier and why, by id."""
    rules = rules or TierRules()
    n = len(accounts)
    ranked = sorted(accounts, key=lambda a: (-a.arr, a.name.lower(), a.id))
    high_n = math.ceil(n * rules.high_touch_share - 1e-9)
    pooled_n = math.ceil(n * (rules.high_touch_share + rules.pooled_share) - 1e-9)
    result: dict[str, tuple[str, str]] = {}
    for i, acc in enumerate(ranked):
        if rules.high_touch_min_arr is not None or rules.pooled_min_arr is not None:
            result[acc.id] = _by_amount(acc.arr, rules)
        elif i < high_n:
            result[acc.id] = (
                HIGH,
                f"top {round(rules.high_touch_share * 100)}% of the book by ARR",
            )
        elif i < pooled_n:
            result[acc.id] = (POOLED, "middle of the book by ARR")
        else:
            result[acc.id] = (TECH, "lower ARR")
    # Top decile: at most 10% of the book uses as much per seat (ties at the edge stay out).
    values = sorted(a.per_seat for a in accounts)
    top_n = math.ceil(n * TOP_USAGE_SHARE - 1e-9)
    for acc in accounts:
        at_least = n - bisect_left(values, acc.per_seat)
        if acc.per_seat > 0 and at_least <= top_n and result[acc.id][0] == TECH:
            result[acc.id] = (POOLED, "top-decile use per seat")
    return result


def _by_amount(arr: float, rules: TierRules) -> tuple[str, str]:
    if rules.high_touch_min_arr is not None and arr >= rules.high_touch_min_arr:
        return HIGH, f"ARR at least {rules.high_touch_min_arr:,.0f}"
    if rules.pooled_min_arr is not None and arr >= rules.pooled_min_arr:
        return POOLED, f"ARR at least {rules.pooled_min_arr:,.0f}"
    return TECH, "lower ARR"


def tier_for_arr(arr: float, book_arrs: Sequence[float], rules: TierRules | None = None) -> str:
    """The tier of one account placed in a book of ``book_arrs`` (other accounts' ARR)."""
    rules = rules or TierRules()
    if rules.high_touch_min_arr is not None or rules.pooled_min_arr is not None:
        return _by_amount(arr, rules)[0]
    n = len(book_arrs) + 1
    above = sum(1 for x in book_arrs if x > arr)
    if above < math.ceil(n * rules.high_touch_share - 1e-9):
        return HIGH
    if above < math.ceil(n * (rules.high_touch_share + rules.pooled_share) - 1e-9):
        return POOLED
    return TECH


def cadence_for(tier: str, cadences: Mapping[str, int] | None = None) -> int:
    """Days between touches a tier expects."""
    table = dict(DEFAULT_CADENCE)
    table.update(cadences or {})
    return int(table.get(tier, DEFAULT_CADENCE[POOLED]))
