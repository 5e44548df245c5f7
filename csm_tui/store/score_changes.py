"""Why accounts' health moved between two days, read from the cache (see domain/score_change.py)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta
from typing import TYPE_CHECKING

from csm_tui.domain.models import Health
from csm_tui.domain.score_change import ScoreChange, explain_change, span_week
from csm_tui.store.as_of import health_as_of, health_from_drivers
from csm_tui.store.dates import cache_day

if TYPE_CHECKING:
    from csm_tui.config import Settings
    from csm_tui.store.db import Connected
    from csm_tui.store.scoring_inputs import ScoringSettings


def score_changes(
    db: Connected,
    settings: Settings | ScoringSettings,
    since: date,
    until: date,
    account_ids: Collection[str] | None = None,
) -> dict[str, ScoreChange]:
    """Each active account's (or only ``account_ids``') health change from ``since`` to
    ``until``, split per component (the health of each day as ``health_as_of`` gives it)."""
    before = health_as_of(db, settings, since, account_ids)
    after = health_as_of(db, settings, until, account_ids)
    return {
        acc: explain_change(before[acc], now, since, until)
        for acc, now in after.items()
        if acc in before
    }


def score_change(
    db: Connected,
    settings: Settings | ScoringSettings,
    account_id: str,
    since: date,
    until: date,
) -> ScoreChange | None:
    """One account's health change from ``since`` to ``until`` (None: not an active account)."""
    return score_changes(db, settings, since, until, [account_id]).get(account_id)


def weekly_score_day(db: Connected, account_id: str, week: date) -> date:
    """The day whose health is the account's weekly score of ``week`` (score_history): the last
    day of that week a rescore stored, else the week's last day (as past weeks are computed)."""
    end = week + timedelta(days=6)
    row = db.conn.execute(
        "SELECT MAX(day) FROM score_days WHERE account_id = ? AND day >= ? AND day <= ?",
        [account_id, week.isoformat(), end.isoformat()],
    ).fetchone()
    found = cache_day(row[0]) if row else None
    return found or end


def score_change_since(
    db: Connected,
    settings: Settings | ScoringSettings,
    account_id: str,
    since: date | int,
    today: date,
) -> ScoreChange | None:
    """One account's change to its score now (the one the list and the detail show) since a
    day, or since its weekly score ``since`` weeks back (an int: the score the list's 4-week
    trend compares with)."""
    if isinstance(since, int):
        since = weekly_score_day(db, account_id, span_week(today, since))
    now = shown_health(db, account_id)
    if now is None:  # never scored: as it would be today
        return score_change(db, settings, account_id, since, today)
    before = health_as_of(db, settings, since, [account_id]).get(account_id)
    return None if before is None else explain_change(before, now, since, today)


def shown_health(db: Connected, account_id: str) -> Health | None:
    """The account's score as the list and the detail show it (the scores table), if active."""
    row = db.conn.execute(
        "SELECT s.health, s.band, s.drivers FROM scores s JOIN accounts a ON a.id = s.account_id "
        "WHERE s.account_id = ? AND a.archived = 0",
        [account_id],
    ).fetchone()
    return None if row is None else health_from_drivers(row[0], row[1], row[2])
