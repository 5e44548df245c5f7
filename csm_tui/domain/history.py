"""Weekly score history: the 4-week trend and whether health dropped (a sustained fall)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta


def trend_points(
    history: Mapping[date, int], week: date, current: int | None, weeks: int = 4
) -> int | None:
    """Health now minus health ``weeks`` weeks ago (None without both)."""
    past = history.get(week - timedelta(weeks=weeks))
    if current is None or past is None:
        return None
    return current - past


def health_dropped(
    history: Mapping[date, int],
    week: date,
    current: int | None,
    weeks: int = 4,
    points: int = 10,
) -> bool:
    """A sustained fall: ``points`` or more below ``weeks`` ago, both this week and last week.

    One noisy week (a dip that recovers, or a dip only this week) is not a drop.
    """
    start = history.get(week - timedelta(weeks=weeks))
    last_week = history.get(week - timedelta(weeks=1))
    if current is None or start is None or last_week is None:
        return False
    return current <= start - points and last_week <= start - points
