"""Why a health score moved between two days: the change split into per-component deltas.

Each component's points are integers that add up to the health, so the change of each is exact
and the deltas add up to the change of the score, with the words of the drivers that moved
("Usage −9: Logins down 41% vs prior 8 weeks; was: usage steady vs prior 8 weeks").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from csm_tui.domain.digest import parse_since
from csm_tui.domain.models import COMPONENTS, Driver, Health, week_start
from csm_tui.domain.scoring import signed

# The spans the detail pane cycles through, in weeks (its key: m); the first shown is 4.
SPANS = (1, 4, 13)
DEFAULT_SPAN = 4
_WEEKS = re.compile(r"^(\d{1,3})\s*w$")

# A score whose stored drivers do not add up to it (never written so; a hand-edited cache):
# the difference is shown as its own line, so the deltas still add up to the change.
UNEXPLAINED = "unexplained"


@dataclass(frozen=True, slots=True)
class DriverDelta:
    """One component's points on each day and the change, with the cause in words."""

    component: str
    delta: int
    points_before: int
    points_after: int
    max_before: int
    max_after: int
    reason: str  # the driver's words on the later day ("" when it has none)
    was: str  # its words on the earlier day, when they differ ("" otherwise)

    @property
    def label(self) -> str:
        """The component's name as a heading ("Usage")."""
        return self.component.capitalize()

    def why(self) -> str:
        """The cause of the move in words: the driver now, what it was, a new weight."""
        if self.component == UNEXPLAINED:
            return "the stored drivers do not add up to the health"
        text = self.reason or "no reason recorded"
        if self.was:
            text += f"; was: {self.was}"
        if self.max_before != self.max_after:
            text += f"; weight {self.max_before} → {self.max_after} of 100"
        elif not self.was and self.delta:
            text += f" ({self.points_before} → {self.points_after} of {self.max_after})"
        return text

    def text(self) -> str:
        """One line: "Usage −9: <why>"."""
        return f"{self.label} {signed(self.delta)}: {self.why()}"

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of `csm-tui explain --json`."""
        return {
            "component": self.component,
            "delta": self.delta,
            "points_before": self.points_before,
            "points_after": self.points_after,
            "max_before": self.max_before,
            "max_after": self.max_after,
            "reason": self.why() if self.delta else self.reason,
        }


@dataclass(frozen=True, slots=True)
class ScoreChange:
    """The health on two days and the change split per component (``deltas`` sum to it)."""

    since: date
    until: date
    before: int | None  # the health on ``since`` (None: no score that day)
    after: int | None
    band_before: str | None
    band_after: str | None
    deltas: tuple[DriverDelta, ...]  # every component, in the order of COMPONENTS

    @property
    def change(self) -> int:
        """The health's change (a missing score counts as 0 points)."""
        return (self.after or 0) - (self.before or 0)

    def moved(self) -> list[DriverDelta]:
        """The components whose points changed, the largest move first (what no driver
        explains last)."""
        order = {c: i for i, c in enumerate(COMPONENTS)}
        found = [d for d in self.deltas if d.delta]
        return sorted(
            found,
            key=lambda d: (d.component == UNEXPLAINED, -abs(d.delta), order.get(d.component, 99)),
        )

    def headline(self) -> str:
        """'Health 72 → 58 (−14) from 2026-11-09 to 2026-12-07'."""
        before = "—" if self.before is None else str(self.before)
        after = "—" if self.after is None else str(self.after)
        span = f"from {self.since.isoformat()} to {self.until.isoformat()}"
        if self.change == 0 and self.before == self.after:
            return f"Health {after}, unchanged {span}"
        return f"Health {before} → {after} ({signed(self.change)}) {span}"

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of `csm-tui explain --json` (without the account)."""
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "health_before": self.before,
            "health_after": self.after,
            "band_before": self.band_before,
            "band_after": self.band_after,
            "change": self.change,
            "deltas": [d.as_dict() for d in self.deltas],
        }


def _by_component(drivers: tuple[Driver, ...]) -> dict[str, Driver]:
    return {d.component: d for d in drivers}


def explain_change(before: Health, after: Health, since: date, until: date) -> ScoreChange:
    """The change from ``before`` (the health on ``since``) to ``after`` (on ``until``), split
    into each component's change of points, with the drivers' words."""
    then, now = _by_component(before.drivers), _by_component(after.drivers)
    names = [c for c in COMPONENTS if c in then or c in now]
    names += sorted((then.keys() | now.keys()) - set(COMPONENTS))
    deltas: list[DriverDelta] = []
    for name in names:
        old, new = then.get(name), now.get(name)
        points_before = old.points if old else 0
        points_after = new.points if new else 0
        reason = new.reason if new else ""
        was = old.reason if old else ""
        deltas.append(
            DriverDelta(
                name,
                points_after - points_before,
                points_before,
                points_after,
                old.max if old else 0,
                new.max if new else 0,
                reason,
                "" if was == reason else was,
            )
        )
    change = ScoreChange(
        since, until, before.score, after.score, before.band, after.band, tuple(deltas)
    )
    left = change.change - sum(d.delta for d in deltas)
    if left:
        rest = DriverDelta(UNEXPLAINED, left, 0, 0, 0, 0, "", "")
        change = ScoreChange(
            since, until, before.score, after.score, before.band, after.band, (*deltas, rest)
        )
    return change


def parse_span(text: str, today: date) -> date | int:
    """A --since: 'Nw' is a number of weeks (the weekly score N weeks back, the one the list's
    "−18 in 4 wk" compares with); anything else is a day ('yesterday', '2026-11-30', '10d').
    Raises ValueError in one line."""
    raw = " ".join(text.strip().lower().split())
    found = _WEEKS.match(raw)
    if found:
        weeks = int(found.group(1))
        if weeks < 1:
            raise ValueError(f"not a span to compare with: {text!r} (try '1w', '4w', '13w')")
        return weeks
    return parse_since(raw, today)


def span_week(today: date, weeks: int) -> date:
    """The first day of the week ``weeks`` weeks before ``today``'s."""
    return week_start(today) - timedelta(weeks=weeks)
