"""Each account's usage summed per week (table usage_summary), kept in step with usage_weekly.

A full rescore reads twelve weeks of every account's usage. Summing them from usage_weekly (one
row per account, week and event: 1.3 million rows at 10,000 accounts) took half a second per
rescore; the summary holds one row per account and week with what the score reads of that week:
its weighted event points, its most users of one event and the scored events used (a bit each).

It follows usage_weekly without help from the sync. The analytics pull replaces the weeks from
its cursor on (a full pull replaces everything) and records the pull in sync_state in the same
transaction; a trigger (migration 5) then notes in usage_summary_state that the summary is stale
from that week on. The next full rescore recomputes those weeks and drops weeks that no longer
exist. The points and bits depend on the event weights and the scored events in the settings:
when those change, the summary is rebuilt whole.

Usage written by anything other than the analytics pull (tests build caches by hand) is not
tracked: the summary is only trusted once a pull has been recorded, else scores read
usage_weekly itself.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # a rescore's second process imports this module: no pydantic, no sqlite-utils
    import sqlite_utils

    from csm_tui.config import Settings
    from csm_tui.store.db import Connected

SOURCE, OBJECT = "analytics", "usage_weekly"  # the sync_state row of the usage pull


def scored_events(settings: Settings) -> list[str]:
    """The events whose use the summary records, in bit order (bit i: the i-th event)."""
    a = settings.analytics
    return list(dict.fromkeys([*a.key_features, a.activation_event]))


def fingerprint(settings: Settings) -> str:
    """The settings the summary's numbers are made of."""
    a = settings.analytics
    return json.dumps(
        {
            "weights": sorted((e, float(w)) for e, w in a.event_weights.items()),
            "default": float(a.default_event_weight),
            "events": scored_events(settings),
        }
    )


def _week_sql(settings: Settings) -> tuple[str, list[Any]]:
    """SELECT of usage_weekly's rows summed per (account, week), and its parameters.

    The same sums the rescore made before the summary existed: SQLite adds each week's events
    in the order of usage_weekly's primary key (account, week, event), as then.
    """
    a = settings.analytics
    weight = "CASE event " + " ".join("WHEN ? THEN ?" for _ in a.event_weights) + " ELSE ? END"
    params: list[Any] = []
    for event, w in a.event_weights.items():
        params += [event, float(w)]
    params.append(float(a.default_event_weight))
    events = scored_events(settings)
    bits = " ".join(f"WHEN ? THEN {1 << i}" for i in range(len(events)))
    sql = (
        f"SELECT account_id, week, SUM(count * ({weight})), MAX(users), "
        f"SUM(CASE WHEN count > 0 THEN (CASE event {bits} ELSE 0 END) ELSE 0 END) "
        "FROM usage_weekly"
    )
    return sql, [*params, *events]


def summary_trusted(db: Connected) -> bool:
    """Has an analytics pull been recorded (so the trigger tracks every change of the usage)?"""
    row = db.conn.execute(
        "SELECT last_success FROM sync_state WHERE source = ? AND object = ?", [SOURCE, OBJECT]
    ).fetchone()
    return row is not None and row[0] is not None


def summary_current(db: sqlite_utils.Database, settings: Settings) -> bool:
    """Is the summary trusted and up to date (no pull since its last refresh)?"""
    return is_current(db, fingerprint(settings))


def is_current(db: Connected, settings_fingerprint: str) -> bool:
    """Is the summary trusted and up to date for settings of this ``fingerprint``?"""
    return summary_trusted(db) and _state(db) == (settings_fingerprint, None)


def refresh_usage_summary(db: sqlite_utils.Database, settings: Settings) -> bool:
    """Bring usage_summary up to date with usage_weekly; False when it cannot be trusted.

    Cheap when nothing changed (one small read); otherwise recomputes the weeks the pulls since
    the last refresh replaced (or everything, after a change of the settings it depends on).
    """
    from csm_tui.store.transaction import transaction  # (sqlite-utils: see the imports)

    if not summary_trusted(db):
        return False
    wanted = fingerprint(settings)
    if _state(db) == (wanted, None):
        return True
    with transaction(db):
        state_fingerprint, stale_from = _state(db)  # again: another process may have refreshed
        select, params = _week_sql(settings)
        if state_fingerprint != wanted or stale_from == "":
            db.conn.execute("DELETE FROM usage_summary")
            db.conn.execute(
                "INSERT INTO usage_summary (account_id, week, points, users, features) "
                + select
                + " GROUP BY account_id, week",
                params,
            )
        elif stale_from is not None:
            db.conn.execute("DELETE FROM usage_summary WHERE week >= ?", [stale_from])
            db.conn.execute(
                "INSERT INTO usage_summary (account_id, week, points, users, features) "
                + select
                + " WHERE week >= ? GROUP BY account_id, week",
                [*params, stale_from],
            )
            # A full pull removes the weeks before its cursor altogether: drop those weeks.
            for (week,) in db.conn.execute(
                "SELECT DISTINCT week FROM usage_summary WHERE week < ?", [stale_from]
            ).fetchall():
                gone = not db.conn.execute(
                    "SELECT EXISTS (SELECT 1 FROM usage_weekly WHERE week = ?)", [week]
                ).fetchone()[0]
                if gone:
                    db.conn.execute("DELETE FROM usage_summary WHERE week = ?", [week])
        db.conn.execute(
            "UPDATE usage_summary_state SET fingerprint = ?, stale_from = NULL", [wanted]
        )
    return True


def _state(db: Connected) -> tuple[str | None, str | None]:
    """(fingerprint, stale_from): stale_from None when up to date, '' when wholly stale."""
    row = db.conn.execute("SELECT fingerprint, stale_from FROM usage_summary_state").fetchone()
    return (None, "") if row is None else (row[0], row[1])
