"""What changed in a book since a day: the rules of `csm-tui digest`, as plain functions.

Each change names one account (or the book, for the outbox) and says what happened in a few
words. The store reads the facts; these functions decide what counts as a change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from csm_tui.domain.when import parse_when

RENEWAL_MILESTONES = (90, 60, 30)
QUIET_DAYS = 30  # an admin or champion with no activity this long has gone quiet
CLIFF_RATIO = 0.5  # recent usage at half the baseline or less
BAND_ORDER = {"red": 0, "yellow": 1, "green": 2}
# The order changes are listed in: what loses customers first.
KINDS = (
    "band_down",
    "escalation",
    "usage_cliff",
    "went_quiet",
    "detractor",
    "renewal",
    "push_failed",
    "band_up",
)
_SPAN = re.compile(r"^(\d{1,3})\s*([dw])$")


@dataclass(frozen=True, slots=True)
class Change:
    """One thing that changed: for an account (or '' for the book) and in words."""

    kind: str
    account_id: str
    account: str
    text: str

    def as_dict(self) -> dict[str, str]:
        """Plain data for JSON."""
        return {
            "kind": self.kind,
            "account_id": self.account_id,
            "account": self.account,
            "text": self.text,
        }


def parse_since(text: str, today: date) -> date:
    """'yesterday', 'today', '1d', '7d', '2w', or a day as `--when` takes it ('mon', 'dec 1',
    '2026-11-30'). Raises ValueError in one line."""
    raw = " ".join(text.strip().lower().split())
    if raw == "today":
        return today
    if raw == "yesterday":
        return today - timedelta(days=1)
    found = _SPAN.match(raw)
    if found:
        days = int(found.group(1)) * (7 if found.group(2) == "w" else 1)
        return today - timedelta(days=days)
    from datetime import UTC, datetime, time

    noon = datetime.combine(today, time(12), tzinfo=UTC)
    try:
        return parse_when(raw, noon).date()
    except ValueError:
        raise ValueError(
            f"not a day to compare with: {text!r} (try 'yesterday', '7d', '2w', '2026-11-30')"
        ) from None


def band_change(before: str | None, after: str | None) -> str | None:
    """'band_down', 'band_up' or None when the band held (or either is unknown)."""
    if before not in BAND_ORDER or after not in BAND_ORDER or before == after:
        return None
    return "band_down" if BAND_ORDER[after] < BAND_ORDER[before] else "band_up"


def renewal_milestones(renewal: date | None, since: date, today: date) -> list[int]:
    """The milestones (days before renewal) reached after ``since`` and by ``today``."""
    if renewal is None:
        return []
    return [d for d in RENEWAL_MILESTONES if since < renewal - timedelta(days=d) <= today]


def went_quiet(last_active: date | None, since: date, today: date) -> bool:
    """Whether someone crossed QUIET_DAYS of silence after ``since`` and by ``today``."""
    if last_active is None:
        return False
    return since < last_active + timedelta(days=QUIET_DAYS) <= today


def usage_ratio(weekly: Sequence[tuple[date, float]], as_of: date) -> float | None:
    """Mean weekly usage of the 4 weeks before ``as_of``'s week against the 8 before them."""
    monday = as_of - timedelta(days=as_of.weekday())
    by_week = dict(weekly)
    recent = [by_week.get(monday - timedelta(weeks=k), 0.0) for k in range(1, 5)]
    base = [by_week.get(monday - timedelta(weeks=k), 0.0) for k in range(5, 13)]
    base_mean = sum(base) / len(base)
    if base_mean <= 0:
        return None
    return (sum(recent) / len(recent)) / base_mean


def fell_off_a_cliff(
    weekly: Sequence[tuple[date, float]], since: date, today: date
) -> float | None:
    """The usage change (e.g. -0.62) when usage fell to CLIFF_RATIO or less after ``since``."""
    now, then = usage_ratio(weekly, today), usage_ratio(weekly, since)
    if now is None or now > CLIFF_RATIO or (then is not None and then <= CLIFF_RATIO):
        return None
    return now - 1


def ordered(changes: Iterable[Change]) -> list[Change]:
    """Changes by kind (the worst first), then account name."""
    rank = {k: i for i, k in enumerate(KINDS)}
    return sorted(changes, key=lambda c: (rank.get(c.kind, len(KINDS)), c.account.lower(), c.text))
