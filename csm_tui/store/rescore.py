"""Rescore: health, drivers, band, stage, tier, priority, chips, trend and opportunity, stored.

Runs after every sync and every local action. Inputs come from a handful of set-based queries
(store.scoring_inputs); the rules are the pure functions of csm_tui.domain; results are written
in one transaction. With ``account_ids`` only those accounts are recomputed, reusing the book's
stored tiers and its current use-per-seat figures, so one logged touch costs milliseconds.
"""

from __future__ import annotations

import gc
import json
from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import sqlite_utils

from csm_tui.config import Settings
from csm_tui.domain.history import health_dropped, trend_points
from csm_tui.domain.lifecycle import expansion_signal, lifecycle_stage
from csm_tui.domain.models import (
    AccountInputs,
    BookContext,
    Driver,
    Health,
    ScoringRules,
    week_start,
)
from csm_tui.domain.ranking import PriorityInput, arr_share, attention
from csm_tui.domain.scoring import health, per_seat, recent_per_seat, with_usage_cause
from csm_tui.domain.tiers import TierInput, assign_tiers, cadence_for, tier_for_arr
from csm_tui.store.db import utc_now
from csm_tui.store.scoring_inputs import (
    HISTORY_WEEKS,
    Book,
    load_book,
    load_book_reference,
    load_event_windows,
    load_history,
    rules_from_settings,
    tier_rules_from_settings,
)
from csm_tui.store.transaction import transaction
from csm_tui.store.usage_summary import refresh_usage_summary

try:  # the C function json.dumps(..., ensure_ascii=False) itself uses for strings
    from _json import encode_basestring as _json_string
except ImportError:  # pragma: no cover - CPython always has _json
    from json.encoder import py_encode_basestring as _json_string


@dataclass(frozen=True)
class RescoreResult:
    """What a rescore did."""

    accounts: int  # accounts scored
    history_weeks: int  # past weekly scores computed for accounts without history
    computed_at: str


def _ids_in_scope(db: sqlite_utils.Database, account_ids: Collection[str] | None) -> list[str]:
    sql = "SELECT id FROM accounts WHERE archived = 0"
    params: list[Any] = []
    if account_ids is not None:
        sql += " AND id IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(sorted(set(account_ids))))
    return [r[0] for r in db.conn.execute(sql, params)]


def _missing_weeks(
    ids: list[str], history: dict[str, dict[date, int]], current: date, rules: ScoringRules
) -> dict[str, list[date]]:
    """Past weeks to compute: for accounts lacking any of the last ``drop_weeks`` weeks."""
    recent = [current - timedelta(weeks=k) for k in range(1, rules.drop_weeks + 1)]
    every = [current - timedelta(weeks=k) for k in range(1, HISTORY_WEEKS + 1)]
    need: dict[str, list[date]] = {}
    for acc in ids:
        have = history.get(acc, {})
        if any(w not in have for w in recent):
            need[acc] = [w for w in every if w not in have]
    return need


def _peers(values: dict[str, float], tiers: dict[str, str]) -> dict[str, list[float]]:
    grouped: dict[str, list[float]] = defaultdict(list)
    for acc, value in values.items():
        tier = tiers.get(acc)
        if tier is not None:
            grouped[tier].append(value)
    for tier_values in grouped.values():
        tier_values.sort()
    return grouped


def _context(
    book: Book,
    tier: str,
    cadences: dict[str, int],
    peers: dict[str, list[float]],
    own: float | None,
) -> BookContext:
    return BookContext(
        tier=tier,
        cadence_days=cadence_for(tier, cadences),
        usage_peers=peers.get(tier, ()),
        peer_self=own,
        has_usage=book.has_usage,
        has_touches=book.has_touches,
        has_tickets=book.has_tickets,
    )


def _cause_chip(h: Health) -> str:
    """The short chip of the component that lost the most points."""
    best = ("", 0.0)
    for c in h.components:
        if c.subscore is None or not c.chip:
            continue
        lost = h.shares[c.name] * (100 - c.subscore) / 100
        if lost > best[1]:
            best = (c.chip, lost)
    return best[0]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection meanwhile.

    A full rescore builds a few hundred thousand small objects and keeps them to the end, none
    in a cycle: each collection the allocations trigger walks them all again for nothing (about
    a fifth of a full rescore). Restores the previous state, so nested or concurrent use is safe.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def rescore(
    db: sqlite_utils.Database,
    settings: Settings,
    today: date,
    account_ids: Collection[str] | None = None,
) -> RescoreResult:
    """Recompute and store the scores of every active account, or only of ``account_ids``."""
    with _gc_paused():
        return _rescore(db, settings, today, account_ids)


def _rescore(
    db: sqlite_utils.Database,
    settings: Settings,
    today: date,
    account_ids: Collection[str] | None,
) -> RescoreResult:
    rules = rules_from_settings(settings)
    cadences = dict(settings.tiers.cadence_days)
    current = week_start(today)
    ids = _ids_in_scope(db, account_ids)
    history = load_history(db, current - timedelta(weeks=HISTORY_WEEKS), current, account_ids)
    need = _missing_weeks(ids, history, current, rules)
    oldest = min((w for weeks in need.values() for w in weeks), default=current)
    if account_ids is None:
        refresh_usage_summary(db, settings)  # a one-account rescore reads around a stale one
    # Each account's weeks of usage are only needed to score past weeks.
    book = load_book(db, settings, today, account_ids, history_from=oldest, usage_weeks=bool(need))

    seat_now = {acc: recent_per_seat(inp.recent) for acc, inp in book.inputs.items()}
    if account_ids is None:
        tiers = {
            acc: tier
            for acc, (tier, _) in assign_tiers(
                [
                    TierInput(acc, inp.account.name, inp.account.arr, seat_now[acc])
                    for acc, inp in book.inputs.items()
                ],
                tier_rules_from_settings(settings),
            ).items()
        }
        reference = seat_now
        peer_tiers = tiers
    else:
        book_ref = load_book_reference(db, settings, today, list(book.inputs))
        stored, reference = book_ref.tiers, book_ref.per_seat
        tiers = {}
        for acc, inp in book.inputs.items():
            if acc in stored:
                tiers[acc] = stored[acc]
                continue
            others = list(book.arrs)
            if inp.account.arr in others:
                others.remove(inp.account.arr)
            tiers[acc] = tier_for_arr(inp.account.arr, others, tier_rules_from_settings(settings))
        peer_tiers = stored
    peers = _peers(reference, peer_tiers) if account_ids is None else book_ref.peers

    # Past weeks for accounts without history: the same rules as of each week's last day.
    past_rows: list[tuple[str, str, int]] = []
    weeks_needed = sorted({w for weeks in need.values() for w in weeks})
    for week in weeks_needed:
        asof = week + timedelta(days=6)
        if account_ids is None:
            past_values = {
                acc: per_seat(inp.usage, asof, rules) for acc, inp in book.inputs.items()
            }
            past_peers = _peers(past_values, tiers)
        else:
            past_values, past_peers = {}, peers
        for acc, weeks in need.items():
            inp = book.inputs.get(acc)
            if inp is None or week not in weeks:
                continue
            own = past_values.get(acc) if account_ids is None else None
            ctx = _context(book, tiers[acc], cadences, past_peers, own)
            past = health(inp, ctx, asof, rules)
            if past.score is not None:
                history.setdefault(acc, {})[week] = past.score
                past_rows.append((acc, week.isoformat(), past.score))

    computed_at = utc_now()
    scored: dict[str, tuple[AccountInputs, BookContext, Health]] = {}
    for acc, inp in book.inputs.items():
        tier = tiers[acc]
        own = reference.get(acc) if peer_tiers.get(acc) == tier else None
        ctx = _context(book, tier, cadences, peers, own)
        scored[acc] = (inp, ctx, health(inp, ctx, today, rules))
    # Where the usage reason names the event that fell, read the events (for those alone).
    fell = [acc for acc, (_, _, h) in scored.items() if h.usage.cause_wanted]
    for acc, windows in load_event_windows(db, settings, today, fell).items():
        inp, ctx, _ = scored[acc]
        inp = replace(inp, event_windows=windows)
        scored[acc] = (inp, ctx, with_usage_cause(scored[acc][2], inp, ctx, today, rules))
    rows = [
        _score_row(inp, ctx, h, today, rules, book, history.get(acc, {}), computed_at)
        for acc, (inp, ctx, h) in scored.items()
    ]
    # What this ranking used, read back by a later one-account rescore (store.scoring_inputs).
    week = current.isoformat()
    references = [(acc, week, tiers[acc], seat_now[acc]) for acc in scored]

    _store(db, account_ids, computed_at, rows, references, past_rows, current)
    return RescoreResult(len(rows), len(past_rows), computed_at)


_SCORE_COLUMNS = (
    "health, band, drivers, stage, stage_reason, tier, priority, reasons, trend, opportunity"
)


def _store(
    db: sqlite_utils.Database,
    account_ids: Collection[str] | None,
    computed_at: str,
    rows: list[tuple[Any, ...]],
    references: list[tuple[str, str, str, float]],
    past_rows: list[tuple[str, str, int]],
    current: date,
) -> None:
    """Write the scores, this week's history and (full rescore) the reference, in one transaction.

    Only rows whose values changed are rewritten: on a day without new data most scores come out
    as they were, and rewriting a row (and its priority index entry) costs more than comparing.
    Every score in scope still gets this ``computed_at``.
    """
    week = current.isoformat()
    scope = None if account_ids is None else json.dumps(sorted(set(account_ids)))
    only = "" if scope is None else " AND account_id IN (SELECT value FROM json_each(?))"
    params = [] if scope is None else [scope]
    with transaction(db):
        if scope is None:
            db.execute(
                "DELETE FROM scores WHERE account_id NOT IN "
                "(SELECT id FROM accounts WHERE archived = 0)"
            )
        else:
            db.execute(
                "DELETE FROM scores WHERE account_id IN (SELECT value FROM json_each(?)) "
                "AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = scores.account_id "
                "AND a.archived = 0)",
                params,
            )
        # Read inside the write transaction: nobody can change them before they are compared.
        stored = {
            r[0]: r[1:]
            for r in db.conn.execute(
                f"SELECT account_id, {_SCORE_COLUMNS} FROM scores WHERE 1 = 1" + only, params
            )
        }
        db.conn.execute(
            "UPDATE scores SET computed_at = ? WHERE 1 = 1" + only, [computed_at, *params]
        )
        db.conn.executemany(
            "INSERT OR REPLACE INTO scores (account_id, computed_at, health, band, drivers, "
            "stage, stage_reason, tier, priority, reasons, trend, opportunity) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [r for r in rows if stored.get(r[0]) != r[2:]],
        )
        if scope is None:
            # Only a full rescore writes the reference: it must cover the whole book at once.
            old = db.conn.execute(
                "SELECT account_id, week, tier, usage_per_seat FROM score_reference "
                "ORDER BY account_id"
            ).fetchall()
            if old != sorted(references):
                db.execute("DELETE FROM score_reference")
                db.conn.executemany(
                    "INSERT INTO score_reference (account_id, week, tier, usage_per_seat) "
                    "VALUES (?, ?, ?, ?)",
                    references,
                )
        this_week = dict(
            db.conn.execute(
                "SELECT account_id, health FROM score_history WHERE week = ?" + only,
                [week, *params],
            )
        )
        week_rows = [
            (r[0], week, r[2]) for r in rows if r[2] is not None and this_week.get(r[0]) != r[2]
        ]
        db.conn.executemany(
            "INSERT OR REPLACE INTO score_history (account_id, week, health) VALUES (?, ?, ?)",
            past_rows + week_rows,
        )


def _json_strings(values: Sequence[str]) -> str:
    """``json.dumps(list(values), ensure_ascii=False)``, built directly (a rescore makes 10,000)."""
    return "[" + ", ".join([_json_string(v) for v in values]) + "]"


def _json_drivers(drivers: Sequence[Driver]) -> str:
    """``json.dumps([d.as_dict() for d in drivers], ensure_ascii=False)``, built directly."""
    return (
        "["
        + ", ".join(
            [
                f'{{"component": {_json_string(d.component)}, "points": {d.points!r}, '
                f'"max": {d.max!r}, "reason": {_json_string(d.reason)}}}'
                for d in drivers
            ]
        )
        + "]"
    )


def _score_row(
    inp: AccountInputs,
    ctx: BookContext,
    h: Health,
    today: date,
    rules: ScoringRules,
    book: Book,
    history: dict[date, int],
    computed_at: str,
) -> tuple[Any, ...]:
    """One account's row of the scores table."""
    acc = inp.account
    current = week_start(today)
    trend = trend_points(history, current, h.score, rules.drop_weeks)
    dropped = health_dropped(history, current, h.score, rules.drop_weeks, rules.drop_points)
    stage = lifecycle_stage(
        acc,
        today,
        activated=h.usage.activated,
        features_used=h.usage.features_used,
        seats_used=inp.seats_used,
        usage_ratio=h.usage.growth_ratio,
        band=h.band,
        health=h.score,
        rules=rules,
    )
    # New accounts still onboarding and lost ones are not expansion opportunities.
    opportunity = stage.name not in ("Win-back", "Onboarding") and (
        expansion_signal(
            acc,
            seats_used=inp.seats_used,
            usage_ratio=h.usage.growth_ratio,
            band=h.band,
            rules=rules,
            today=today,
        )
        is not None
    )
    last_touch = max((t.occurred for t in inp.touches if t.occurred <= today), default=None)
    overdue = [s.due for s in inp.next_steps if s.due is not None and s.due < today]
    priority = attention(
        PriorityInput(
            health=h.score,
            band=h.band,
            trend=trend,
            renewal_date=acc.renewal_date,
            last_touch=last_touch,
            cadence_days=ctx.cadence_days,
            arr_share=arr_share(acc.arr, book.arrs),
            overdue_steps=len(overdue),
            oldest_overdue_days=max(((today - d).days for d in overdue), default=0),
            stage=stage.name,
            cause_chip=_cause_chip(h),
            opportunity=opportunity,
            dropped=dropped,
        ),
        today,
    )
    return (
        acc.id,
        computed_at,
        h.score,
        h.band,
        _json_drivers(h.drivers),
        stage.name,
        stage.reason,
        ctx.tier,
        priority.value,
        _json_strings(priority.chips),
        trend,
        int(opportunity),
    )
