"""Each account's full health (components, points, drivers) as it was on a past day.

The day's ``score_days`` row is what the CSM saw, so it is given when there is one; otherwise the
score is computed again from the cache's own dated inputs as they were on that day: usage of the
weeks before the day's week, touches, tickets, surveys and next steps dated up to the day. The
tiers and the use-per-seat peers are the book's on that day too (ARRs are today's: the cache keeps
no older ones to rank by).

What the cache does not date cannot be taken back: a contact's or product user's last activity
is its latest, a next step done since is gone, a ticket's priority and escalation are today's.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from csm_tui.domain.models import BookContext, Component, Driver, Health, UsageFacts, week_start
from csm_tui.domain.scoring import health, recent_per_seat, with_usage_cause
from csm_tui.domain.tiers import TierInput, assign_tiers, cadence_for
from csm_tui.store.scoring_inputs import (
    FEW_ACCOUNTS,
    ScoringSettings,
    load_book,
    load_event_windows,
    scoring_settings,
)
from csm_tui.store.usage_summary import is_current

if TYPE_CHECKING:
    from csm_tui.config import Settings
    from csm_tui.store.db import Connected


def health_as_of(
    db: Connected,
    settings: Settings | ScoringSettings,
    day: date,
    account_ids: Collection[str] | None = None,
) -> dict[str, Health]:
    """Each active account's (or only ``account_ids``') health on ``day``: the day's stored
    score when a rescore ran that day, else computed from the inputs as they were then."""
    found = stored_health(db, day, account_ids)
    wanted = _active_ids(db, account_ids)
    missing = [acc for acc in wanted if acc not in found]
    if missing:
        found.update(computed_health(db, settings, day, missing))
    return {acc: found[acc] for acc in wanted if acc in found}


def stored_health(
    db: Connected, day: date, account_ids: Collection[str] | None = None
) -> dict[str, Health]:
    """The health of each active account (or of ``account_ids``) stored for ``day`` (score_days),
    rebuilt from its drivers: only what was stored, so no exact value beyond the integer."""
    sql = (
        "SELECT d.account_id, d.health, d.band, d.drivers FROM score_days d "
        "JOIN accounts a ON a.id = d.account_id WHERE a.archived = 0 AND d.day = ?"
    )
    params: list[Any] = [day.isoformat()]
    if account_ids is not None:
        sql += " AND d.account_id IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(sorted(set(account_ids))))
    found: dict[str, Health] = {}
    for acc, score, band, drivers in db.conn.execute(sql, params):
        rebuilt = health_from_drivers(score, band, drivers)
        if rebuilt is not None:
            found[acc] = rebuilt
    return found


def health_from_drivers(score: int | None, band: str | None, drivers_json: str) -> Health | None:
    """A Health from a stored score and its drivers' JSON (None if the JSON is unreadable)."""
    try:
        raw = json.loads(drivers_json or "[]")
        drivers = tuple(
            Driver(str(d["component"]), int(d["points"]), int(d["max"]), str(d["reason"]))
            for d in raw
        )
    except (ValueError, TypeError, KeyError):
        return None
    components = tuple(
        Component(d.component, 100.0 * d.points / d.max if d.max > 0 else None, d.reason)
        for d in drivers
    )
    shares = {d.component: float(d.max) for d in drivers if d.max > 0}
    exact = None if score is None else float(score)
    return Health(score, exact, band, components, drivers, shares, UsageFacts())


def computed_health(
    db: Connected,
    settings: Settings | ScoringSettings,
    day: date,
    account_ids: Collection[str] | None = None,
) -> dict[str, Health]:
    """Each active account's (or only ``account_ids``') health on ``day``, computed from the
    cache's inputs dated up to ``day`` (never the stored score)."""
    spec = scoring_settings(settings)
    rules = spec.rules
    whole_book = account_ids is None
    few = not whole_book and len(set(account_ids or ())) <= FEW_ACCOUNTS
    book = load_book(db, spec, day, account_ids, past_weeks=False, book_arrs=not few)
    if not book.inputs:
        return {}
    seat_then = {acc: recent_per_seat(inp.recent) for acc, inp in book.inputs.items() if inp.recent}
    # Tiers and peers are the whole book's on the day, whichever accounts are asked for.
    if whole_book:
        everyone = [
            TierInput(acc, inp.account.name, inp.account.arr, seat_then.get(acc, 0.0))
            for acc, inp in book.inputs.items()
        ]
    else:  # the loaded accounts with their own figures, as the score ranks them
        everyone = [
            replace(t, per_seat=seat_then[t.id]) if t.id in seat_then else t
            for t in _book_seats(db, spec, day)
        ]
    tiers = {acc: tier for acc, (tier, _) in assign_tiers(everyone, spec.tier_rules).items()}
    peers = _peers_by_tier(everyone, tiers)
    scored = {}
    for acc, inp in book.inputs.items():
        tier = tiers.get(acc, "pooled")
        ctx = BookContext(
            tier,
            cadence_for(tier, spec.cadences),
            peers.get(tier, ()),
            seat_then.get(acc),
            book.has_usage,
            book.has_touches,
            book.has_tickets,
        )
        scored[acc] = (inp, ctx, health(inp, ctx, day, rules))
    # Name the event that fell where the usage reason would (read for those accounts alone).
    fell = [acc for acc, (_, _, h) in scored.items() if h.usage.cause_wanted]
    for acc, windows in load_event_windows(db, spec, day, fell).items():
        inp, ctx, h = scored[acc]
        inp = replace(inp, event_windows=windows)
        scored[acc] = (inp, ctx, with_usage_cause(h, inp, ctx, day, rules))
    return {acc: h for acc, (_, _, h) in scored.items()}


def _active_ids(db: Connected, account_ids: Collection[str] | None) -> list[str]:
    sql = "SELECT id FROM accounts WHERE archived = 0"
    params: list[Any] = []
    if account_ids is not None:
        sql += " AND id IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(sorted(set(account_ids))))
    return [r[0] for r in db.conn.execute(sql + " ORDER BY id", params)]


def _peers_by_tier(
    accounts: Iterable[TierInput], tiers: Mapping[str, str]
) -> dict[str, list[float]]:
    grouped: dict[str, list[float]] = defaultdict(list)
    for t in accounts:
        tier = tiers.get(t.id)
        if tier is not None:
            grouped[tier].append(t.per_seat)
    for values in grouped.values():
        values.sort()
    return dict(grouped)


def _book_seats(db: Connected, spec: ScoringSettings, day: date) -> list[TierInput]:
    """Every active account's ARR and use per seat on ``day``, summed in SQLite (one query).

    The figure is the score's (points per week of the recent window per its most users),
    rounded alike, so it compares equal with the one computed from the account's inputs.
    """
    rules = spec.rules
    current = week_start(day)
    recent_from = (current - timedelta(weeks=rules.trend_recent_weeks)).isoformat()
    if is_current(db, spec.summary_fingerprint):
        usage_sql = (
            "SELECT account_id, SUM(points) AS pts, MAX(users) AS most FROM usage_summary "
            "WHERE week >= ? AND week < ? GROUP BY account_id"
        )
        usage_params: list[Any] = [recent_from, current.isoformat()]
    else:
        weights = spec.event_weights
        weight_sql = "CASE event " + " ".join("WHEN ? THEN ?" for _ in weights) + " ELSE ? END"
        usage_params = []
        for event, weight in weights.items():
            usage_params += [event, float(weight)]
        usage_params.append(float(spec.default_event_weight))
        usage_sql = (
            f"SELECT account_id, SUM(count * ({weight_sql})) AS pts, MAX(users) AS most "
            "FROM usage_weekly WHERE week >= ? AND week < ? GROUP BY account_id"
        )
        usage_params += [recent_from, current.isoformat()]
    rows = db.conn.execute(
        f"SELECT a.id, a.name, a.arr, u.pts, u.most FROM accounts a LEFT JOIN ({usage_sql}) u "
        "ON u.account_id = a.id WHERE a.archived = 0",
        usage_params,
    )
    found = []
    for acc, name, arr, points, most in rows:
        pts = float(points or 0.0)
        seat = 0.0
        if pts > 0:
            seat = round(pts / rules.trend_recent_weeks / max(int(most or 0), 1), 6)
        found.append(TierInput(acc, name or "", float(arr or 0.0), seat))
    return found
