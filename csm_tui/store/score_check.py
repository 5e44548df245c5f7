"""The score check over the cache's own history: outcomes, and the health ``horizon`` days before.

Outcomes (``csm_tui.domain.score_check``): churn dates, and renewals that have passed with the ARR
before and after them. Each outcome's score is the account's health on the day ``horizon`` days
earlier (``store.as_of.health_as_of``: the score stored that day, else computed from the inputs
dated up to it).

An outcome is checked only when the cache holds usage for its day: on or after the first week
of usage synced plus the recent window the usage score reads (before it, every account would
look unused). Without any usage synced, outcomes of the last ``NO_USAGE_LOOKBACK_DAYS`` count.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from csm_tui.domain.models import Health
from csm_tui.domain.score_check import (
    Observation,
    Outcome,
    ScoreCheck,
    account_outcome,
    score_check,
)
from csm_tui.store.as_of import health_as_of
from csm_tui.store.dates import cache_day
from csm_tui.store.portfolio import load_account_arr

if TYPE_CHECKING:
    import sqlite_utils

    from csm_tui.config import Settings

DEFAULT_HORIZON = 90
NO_USAGE_LOOKBACK_DAYS = 730


@dataclass(frozen=True, slots=True)
class CheckReport:
    """The check of the score over the cache's outcomes."""

    today: date
    horizon: int
    since: date | None  # the first outcome day that could be checked (None: no outcome)
    check: ScoreCheck
    kinds: dict[str, int] = field(default_factory=dict)  # outcomes checked, by kind
    before_history: int = 0  # outcomes left out: their day precedes the cached usage
    unscored: int = 0  # outcomes left out: no score on their day

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {
            "source": "cache",
            "today": self.today.isoformat(),
            "horizon_days": self.horizon,
            "since": None if self.since is None else self.since.isoformat(),
            "outcomes": dict(self.kinds),
            "left_out": {"before_history": self.before_history, "unscored": self.unscored},
            **self.check.to_json(),
        }


def history_start(db: sqlite_utils.Database, settings: Settings) -> date | None:
    """The first day a score can read usage for (None without usage cached)."""
    row = db.execute(
        "SELECT MIN(u.week) FROM usage_weekly u JOIN accounts a ON a.id = u.account_id "
        "WHERE a.archived = 0"
    ).fetchone()
    first = cache_day(row[0]) if row else None
    if first is None:
        return None
    return first + timedelta(weeks=settings.scoring.trend_recent_weeks)


def load_outcomes(db: sqlite_utils.Database, since: date, today: date) -> list[Outcome]:
    """Each active account's latest outcome in ``[since, today]``."""
    renewals = {
        account_id: cache_day(renewal)
        for account_id, renewal in db.execute(
            "SELECT id, renewal_date FROM accounts WHERE archived = 0"
        )
    }
    found = []
    for account in load_account_arr(db):
        outcome = account_outcome(account, renewals.get(account.account_id), since, today)
        if outcome is not None:
            found.append(outcome)
    return found


def observation(outcome: Outcome, health: Health) -> Observation | None:
    """The outcome with the health that preceded it (None without a score)."""
    if health.score is None:
        return None
    return Observation(
        outcome.left,
        float(health.score),
        health.band,
        {c.name: c.subscore for c in health.components},
        outcome.account_id,
    )


def observations(
    db: sqlite_utils.Database,
    settings: Settings,
    outcomes: Iterable[Outcome],
    horizon: int,
) -> tuple[list[Observation], int]:
    """The outcomes with their scores ``horizon`` days before, and how many had none."""
    by_day: dict[date, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_day[outcome.day - timedelta(days=horizon)].append(outcome)
    found: list[Observation] = []
    unscored = 0
    for day in sorted(by_day):
        wanted = by_day[day]
        scored = health_as_of(db, settings, day, [o.account_id for o in wanted])
        for outcome in wanted:
            h = scored.get(outcome.account_id)
            seen = None if h is None else observation(outcome, h)
            if seen is None:
                unscored += 1
            else:
                found.append(seen)
    return found, unscored


def check_cache(
    db: sqlite_utils.Database,
    settings: Settings,
    today: date,
    horizon: int = DEFAULT_HORIZON,
) -> CheckReport:
    """The score check over every outcome the cache can score ``horizon`` days ahead of."""
    start = history_start(db, settings)
    if start is None:
        since = today - timedelta(days=NO_USAGE_LOOKBACK_DAYS)
    else:
        since = start + timedelta(days=horizon)
    every = load_outcomes(db, min(since, today), today) if since <= today else []
    before = 0
    if start is not None:  # what the history cannot score, counted to be said
        before = sum(1 for _ in load_outcomes(db, since - timedelta(days=365), today)) - len(every)
    seen, unscored = observations(db, settings, every, horizon)
    checked = {o.account_id for o in seen}
    kinds = Counter(o.kind for o in every if o.account_id in checked)
    return CheckReport(
        today=today,
        horizon=horizon,
        since=since if since <= today else None,
        check=score_check(seen),
        kinds=dict(sorted(kinds.items())),
        before_history=max(0, before),
        unscored=unscored,
    )
