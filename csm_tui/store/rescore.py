"""Rescore: health, drivers, band, stage, tier, priority, chips, trend and opportunity, stored.

Runs after every sync and every local action. Inputs come from a handful of set-based queries
(store.scoring_inputs); the rules are the pure functions of csm_tui.domain; results are written
in one transaction. With ``account_ids`` only those accounts are recomputed, reusing the book's
stored tiers and its current use-per-seat figures, so one logged touch costs milliseconds.
"""

from __future__ import annotations

import json
import pickle
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from csm_tui.domain.history import health_dropped, trend_points
from csm_tui.domain.lifecycle import expansion_signal, expansion_strength, lifecycle_stage
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
from csm_tui.gc_pause import gc_paused
from csm_tui.helper_process import end_helper, send, start_helper
from csm_tui.store.db import Connected, utc_now
from csm_tui.store.score_settings import record_scoring_config
from csm_tui.store.scoring_inputs import (
    FEW_ACCOUNTS,
    HISTORY_WEEKS,
    Book,
    IdRange,
    ScoringSettings,
    load_arrs,
    load_book,
    load_book_reference,
    load_event_windows,
    load_history,
    load_week_health,
    scope_sql,
    scoring_settings,
)
from csm_tui.store.usage_summary import refresh_usage_summary

if TYPE_CHECKING:  # the helper process imports this module: no pydantic, no sqlite-utils
    import subprocess

    import sqlite_utils

    from csm_tui.config import Settings

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
    processes: int = 1  # processes that shared the work (2: see SHARE_FROM_ACCOUNTS)


def _ids_in_scope(db: sqlite_utils.Database, account_ids: Collection[str] | None) -> list[str]:
    sql = "SELECT id FROM accounts WHERE archived = 0"
    params: list[Any] = []
    if account_ids is not None:
        sql += " AND id IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(sorted(set(account_ids))))
    return [r[0] for r in db.conn.execute(sql, params)]


def _load_recent_history(
    db: sqlite_utils.Database,
    ids: list[str],
    current: date,
    rules: ScoringRules,
    account_ids: Collection[str] | None,
) -> dict[str, dict[date, int]]:
    """Stored weekly health: the weeks the trend reads, and every week of the accounts lacking one
    of those (their missing weeks are computed from the usage)."""
    oldest = current - timedelta(weeks=HISTORY_WEEKS)
    recent = [current - timedelta(weeks=k) for k in range(1, rules.drop_weeks + 1)]
    history = load_history(db, max(min(recent, default=current), oldest), current, account_ids)
    lacking = [acc for acc in ids if any(w not in history.get(acc, {}) for w in recent)]
    if lacking:
        history.update(load_history(db, oldest, current, lacking))
    return history


def _history_complete(
    db: sqlite_utils.Database, active: int, current: date, rules: ScoringRules
) -> bool:
    """Has each of the ``active`` accounts a stored score for every week the trend reads (so no
    past week needs computing: ``_missing_weeks`` would find none)?"""
    if rules.drop_weeks > HISTORY_WEEKS:  # weeks never read back: always missing
        return False
    recent = [(current - timedelta(weeks=k)).isoformat() for k in range(1, rules.drop_weeks + 1)]
    marks = ", ".join("?" for _ in recent)
    found = db.conn.execute(  # one row per account and week: all there when the count is full
        f"SELECT COUNT(*) FROM score_history WHERE week IN ({marks}) "
        "AND account_id IN (SELECT id FROM accounts WHERE archived = 0)",
        recent,
    ).fetchone()[0]
    return bool(found == active * len(recent))


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
    cadence_days: int,
    peers: dict[str, list[float]],
    own: float | None,
) -> BookContext:
    return BookContext(  # by position: 10,000 of them
        tier,  # tier
        cadence_days,  # cadence_days
        peers.get(tier, ()),  # usage_peers
        own,  # peer_self
        book.has_usage,  # has_usage
        book.has_touches,  # has_touches
        book.has_tickets,  # has_tickets
    )


def _cadences(tiers: dict[str, str], spec: ScoringSettings) -> dict[str, int]:
    """Each tier's touch cadence (``cadence_for`` builds a table per call: once per tier)."""
    return {tier: cadence_for(tier, spec.cadences) for tier in set(tiers.values())}


def _cause_chip(h: Health) -> str:
    """The short chip of the component that lost the most points."""
    best = ("", 0.0)
    for c in h.components:
        share = h.shares.get(c.name)  # none for a component weighted 0: it costs nothing
        if c.subscore is None or not c.chip or share is None:
            continue
        lost = share * (100 - c.subscore) / 100
        if lost > best[1]:
            best = (c.chip, lost)
    return best[0]


def rescore(
    db: sqlite_utils.Database,
    settings: Settings,
    today: date,
    account_ids: Collection[str] | None = None,
) -> RescoreResult:
    """Recompute and store the scores of every active account, or only of ``account_ids``."""
    from csm_tui.store.search import refresh_index

    # Every write (sync, local actions, undo) is followed by a rescore: the search index catches
    # up with the rows written here, in one batch.
    refresh_index(db.conn)
    # A full rescore builds a few hundred thousand small objects and keeps them to the end, none
    # in a cycle: each collection the allocations triggered walked them all again for nothing.
    with gc_paused():
        result = _rescore(db, settings, today, account_ids)
    if account_ids is None:  # what the whole book's scores were made with (store/score_settings)
        record_scoring_config(db, settings, result.computed_at)
    return result


def _rescore(
    db: sqlite_utils.Database,
    settings: Settings,
    today: date,
    account_ids: Collection[str] | None,
) -> RescoreResult:
    spec = scoring_settings(settings)
    rules = spec.rules
    current = week_start(today)
    ids = _ids_in_scope(db, account_ids)
    # Started first, so that its start-up overlaps the reads below.
    helper = _Helper.start(db) if account_ids is None and len(ids) >= SHARE_FROM_ACCOUNTS else None
    try:
        if account_ids is None:
            refresh_usage_summary(db, settings)  # a one-account rescore reads around a stale one
        if helper is not None:
            # Its share goes first, to be read while this process checks that no past week is
            # missing (if one is after all, the helper's work is left unused).
            mine, theirs = _shares_of(ids)
            helper.ask(("load", spec, today, theirs))
            if _history_complete(db, len(ids), current, rules):
                return _rescore_shared(db, spec, today, ids, helper, mine, theirs)
        history = _load_recent_history(db, ids, current, rules, account_ids)
        need = _missing_weeks(ids, history, current, rules)
        return _rescore_alone(db, spec, today, account_ids, history, need)
    finally:
        if helper is not None:
            helper.close()


def _rescore_alone(
    db: sqlite_utils.Database,
    spec: ScoringSettings,
    today: date,
    account_ids: Collection[str] | None,
    history: dict[str, dict[date, int]],
    need: dict[str, list[date]],
) -> RescoreResult:
    """The whole rescore in this process: any scope, with past weeks computed where missing."""
    rules = spec.rules
    current = week_start(today)
    oldest = min((w for weeks in need.values() for w in weeks), default=current)
    # A few accounts without past weeks to compute (a logged touch): where they stand in the
    # book (ARR, use per seat) is counted in SQL rather than read whole (see Standing).
    few = account_ids is not None and not need and len(account_ids) <= FEW_ACCOUNTS
    book = load_book(
        db,
        spec,
        today,
        account_ids,
        history_from=oldest,
        past_weeks=bool(need),
        book_arrs=not few,
    )

    # The value each account's usage level is ranked by (what health() computes of it).
    seat_now = {acc: _per_seat_now(inp) for acc, inp in book.inputs.items()}
    account_peers: dict[str, Sequence[float]] = {}
    if account_ids is None:
        tiers = _tiers(
            [
                TierInput(acc, inp.account.name, inp.account.arr, seat_now[acc])
                for acc, inp in book.inputs.items()
            ],
            spec,
        )
        reference = seat_now
        peer_tiers = tiers
    else:
        book_ref = load_book_reference(
            db, spec, today, list(book.inputs), per_seat_now=seat_now if few else None
        )
        stored, reference = book_ref.tiers, book_ref.per_seat
        account_peers = book_ref.account_peers
        tiers = {}
        for acc, inp in book.inputs.items():
            if acc in stored:
                tiers[acc] = stored[acc]
                continue
            others = list(book.arrs or load_arrs(db))
            if inp.account.arr in others:
                others.remove(inp.account.arr)
            tiers[acc] = tier_for_arr(inp.account.arr, others, spec.tier_rules)
        peer_tiers = stored
    peers = _peers(reference, peer_tiers) if account_ids is None else book_ref.peers

    # Past weeks for accounts without history: the same rules as of each week's last day.
    past_rows: list[tuple[str, str, int]] = []
    weeks_needed = sorted({w for weeks in need.values() for w in weeks})
    cadences = _cadences(tiers, spec)
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
            acc_inputs = book.inputs.get(acc)
            if acc_inputs is None or week not in weeks:
                continue
            own = past_values.get(acc) if account_ids is None else None
            ctx = _context(book, tiers[acc], cadences[tiers[acc]], past_peers, own)
            past = health(acc_inputs, ctx, asof, rules)
            if past.score is not None:
                history.setdefault(acc, {})[week] = past.score
                past_rows.append((acc, week.isoformat(), past.score))

    computed_at = utc_now()
    rows = _score_accounts(
        db,
        spec,
        today,
        book,
        tiers,
        peers,
        reference,
        peer_tiers,
        history,
        computed_at,
        account_peers,
    )
    writes = _changes(db, None if account_ids is None else list(book.inputs), rows, current)
    # What this ranking used, read back by a later one-account rescore (store.scoring_inputs).
    references: list[tuple[str, str, str, float]] | None = None
    if account_ids is None:
        this_week = current.isoformat()
        ranked_by = [(acc, this_week, tiers[acc], seat_now[acc]) for acc in book.inputs]
        if _stale_reference(db, ranked_by):
            references = ranked_by
    _store(
        db, account_ids, list(book.inputs), computed_at, writes, references, past_rows,
        today.isoformat(),
    )  # fmt: skip
    return RescoreResult(len(rows), len(past_rows), computed_at)


def _per_seat_now(inputs: AccountInputs) -> float:
    """What the account's usage level is ranked by: load_book sets every account's recent
    usage (today's)."""
    assert inputs.recent is not None
    return recent_per_seat(inputs.recent)


def _tiers(accounts: list[TierInput], spec: ScoringSettings) -> dict[str, str]:
    return {acc: tier for acc, (tier, _) in assign_tiers(accounts, spec.tier_rules).items()}


def _score_accounts(
    db: Connected,
    spec: ScoringSettings,
    today: date,
    book: Book,
    tiers: dict[str, str],
    peers: dict[str, list[float]],
    reference: dict[str, float],
    peer_tiers: dict[str, str],
    history: dict[str, dict[date, int]],
    computed_at: str,
    account_peers: Mapping[str, Sequence[float]] | None = None,
) -> list[tuple[Any, ...]]:
    """The scores rows of the book's accounts, given the whole book's tiers and peers (or, for
    some accounts, their tier's peers as seen from them: ``account_peers``)."""
    rules = spec.rules
    scored: dict[str, tuple[AccountInputs, BookContext, Health]] = {}
    cadences = _cadences(tiers, spec)
    for acc, inp in book.inputs.items():
        tier = tiers[acc]
        own = reference.get(acc) if peer_tiers.get(acc) == tier else None
        ctx = _context(book, tier, cadences[tier], peers, own)
        if account_peers and acc in account_peers:
            ctx = replace(ctx, usage_peers=account_peers[acc])
        scored[acc] = (inp, ctx, health(inp, ctx, today, rules))
    # Where the usage reason names the event that fell, read the events (for those alone).
    fell = [acc for acc, (_, _, h) in scored.items() if h.usage.cause_wanted]
    for acc, windows in load_event_windows(db, spec, today, fell).items():
        inp, ctx, _ = scored[acc]
        inp = replace(inp, event_windows=windows)
        scored[acc] = (inp, ctx, with_usage_cause(scored[acc][2], inp, ctx, today, rules))
    return [
        _score_row(inp, ctx, h, today, rules, book, history.get(acc, {}), computed_at)
        for acc, (inp, ctx, h) in scored.items()
    ]


# -- sharing a full rescore with a second process --------------------------------------------

# From this many accounts, a full rescore on a machine with two or more cores gives half the
# accounts to a second process (store/rescore_worker.py): its start-up (~0.1 s) is then repaid.
SHARE_FROM_ACCOUNTS = 2000
_HELPER_MODULE = "csm_tui.store.rescore_worker"


def load_share(
    db: Connected, spec: ScoringSettings, today: date, share: IdRange
) -> tuple[Book, list[TierInput]]:
    """One process's share of a full rescore, first step: its accounts' inputs, and what the
    whole book's tiers are ranked by."""
    book = load_book(db, spec, today, share, past_weeks=False)
    seat = [
        TierInput(acc, inp.account.name, inp.account.arr, _per_seat_now(inp))
        for acc, inp in book.inputs.items()
    ]
    return book, seat


def score_share(
    db: Connected,
    spec: ScoringSettings,
    today: date,
    share: IdRange,
    book: Book,
    tiers: dict[str, str],
    peers: dict[str, list[float]],
    seat: dict[str, float],
    computed_at: str,
) -> _Writes:
    """Second step: what the share's accounts' new scores change (the history read here)."""
    current = week_start(today)
    # The weeks the trend and the drop read (every account has them: see _history_complete),
    # and this week's, which the changes are compared with: one read of the three.
    past = sorted({current - timedelta(weeks=1), current - timedelta(weeks=spec.rules.drop_weeks)})
    history: dict[str, dict[date, int]] = {}
    this_week: dict[str, Any] = {}
    for acc, (*healths, now) in load_week_health(db, [*past, current], share).items():
        history[acc] = {w: int(h) for w, h in zip(past, healths, strict=True) if h is not None}
        if now is not None:
            this_week[acc] = now
    rows = _score_accounts(db, spec, today, book, tiers, peers, seat, tiers, history, computed_at)
    return _changes(db, share, rows, current, this_week)


# The helper's share of the book: a little less than half, as it starts later (~0.1 s).
HELPER_SHARE = 0.47


def _shares_of(ids: list[str]) -> tuple[IdRange, IdRange]:
    """This process's share and the helper's: two ranges of ids (each index is then read over
    one range), the second a short message that does not wait in the pipe for the helper."""
    ordered = sorted(ids)
    boundary = ordered[min(max(1, round(len(ids) * (1 - HELPER_SHARE))), len(ids) - 1)]
    return IdRange("", boundary), IdRange(boundary)


def _rescore_shared(
    db: sqlite_utils.Database,
    spec: ScoringSettings,
    today: date,
    ids: list[str],
    helper: _Helper,
    mine: IdRange,
    theirs: IdRange,
) -> RescoreResult:
    """A full rescore (no past weeks to compute) with the helper scoring its share (asked).

    Both halves run the same functions as a rescore alone; only the tiers and peers, which need
    the whole book, are computed here between the two steps. Should the helper fail, this
    process does its half too: slower, never different.
    """
    book, seats = load_share(db, spec, today, mine)
    their_book: Book | None = None
    answer = helper.answer()  # their TierInputs' fields, as tuples (see rescore_worker)
    if answer is None:
        their_book, their_seats = load_share(db, spec, today, theirs)
    else:
        their_seats = [TierInput(*fields) for fields in answer]
    everyone = seats + their_seats
    tiers = _tiers(everyone, spec)
    seat = {t.id: t.per_seat for t in everyone}
    peers = _peers(seat, tiers)
    computed_at = utc_now()
    their_tiers = {t.id: tiers[t.id] for t in their_seats}
    their_seat = {t.id: t.per_seat for t in their_seats}
    helper.ask(("score", their_tiers, peers, their_seat, computed_at))
    writes = score_share(db, spec, today, mine, book, tiers, peers, seat, computed_at)
    week = week_start(today).isoformat()
    ranked_by = [(t.id, week, tiers[t.id], t.per_seat) for t in everyone]
    references = ranked_by if _stale_reference(db, ranked_by) else None
    theirs_written = helper.answer()
    if theirs_written is None:
        if their_book is None:
            their_book, _ = load_share(db, spec, today, theirs)
        theirs_written = score_share(
            db, spec, today, theirs, their_book, tiers, peers, seat, computed_at
        )
    writes.new += theirs_written.new
    writes.changed += theirs_written.changed
    writes.history += theirs_written.history
    _store(db, None, ids, computed_at, writes, references, [], today.isoformat())
    return RescoreResult(len(everyone), 0, computed_at, 1 if helper.failed else 2)


class _Helper:
    """The second process of a full rescore, spoken to in pickles on its stdin and stdout.

    Any failure (it could not start, it died, it reported an error) makes ``answer`` return
    None from then on, and the caller does that work itself.
    """

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.failed = False

    @classmethod
    def start(cls, db: sqlite_utils.Database) -> _Helper | None:
        """A helper reading the same cache file, when this machine has a second core for it."""
        path = next((r[2] for r in db.conn.execute("PRAGMA database_list") if r[1] == "main"), "")
        process = start_helper(_HELPER_MODULE, path) if path else None
        return cls(process) if process is not None else None

    def ask(self, message: tuple[Any, ...]) -> None:
        """Send the next piece of work."""
        if self.failed:
            return
        try:
            send(self.process.stdin, message)
        except (OSError, ValueError, pickle.PickleError):
            self.failed = True

    def answer(self) -> Any:
        """The result of the last piece of work, or None if the helper failed."""
        if self.failed:
            return None
        try:
            assert self.process.stdout is not None  # started with a pipe on its stdout
            kind, value = pickle.load(self.process.stdout)
        except Exception:  # it died or wrote garbage: whatever it was, this process takes over
            kind, value = "error", None
        if kind != "ok":
            self.failed = True
            return None
        return value

    def close(self) -> None:
        """Let it finish (or end it) and reap it."""
        end_helper(self.process)


_SCORE_COLUMNS = (
    "health, band, drivers, stage, stage_reason, tier, priority, reasons, trend, opportunity"
)


@dataclass
class _Writes:
    """What a rescore writes: its rows that differ from the stored ones."""

    new: list[tuple[Any, ...]]  # rows of the scores table for accounts without a score
    changed: list[tuple[Any, ...]]  # rows of the scores table that differ from the stored ones
    history: list[tuple[str, str, int]]  # rows of score_history


def _changes(
    db: Connected,
    ids: Collection[str] | IdRange | None,
    rows: list[tuple[Any, ...]],
    current: date,
    this_week: dict[str, Any] | None = None,
) -> _Writes:
    """The score rows, and this week's history rows, that differ from the stored ones
    (``this_week``: the stored health of this week per account, when already read).

    On a day without new data most scores come out as they were, and rewriting a row (and its
    priority index entry) costs more than comparing. Compared before the write transaction (by
    each process sharing a rescore, for its accounts): a row found equal here and rewritten
    before our write was rewritten by another rescore, whose row then stands, as it would have
    had it been written after ours.
    """
    week = current.isoformat()
    only, params = scope_sql("account_id", ids)
    stored = {
        r[0]: r[1:]
        for r in db.conn.execute(
            f"SELECT account_id, {_SCORE_COLUMNS} FROM scores WHERE 1 = 1" + only, params
        )
    }
    if this_week is None:
        this_week = dict(
            db.conn.execute(
                "SELECT account_id, health FROM score_history WHERE week = ?" + only,
                [week, *params],
            )
        )
    new, changed = [], []
    for row in rows:
        old = stored.get(row[0])
        if old is None:
            new.append(row)
        elif old != row[2:]:
            changed.append(row)
    return _Writes(
        new,
        changed,
        [(r[0], week, r[2]) for r in rows if r[2] is not None and this_week.get(r[0]) != r[2]],
    )


def _stale_reference(
    db: sqlite_utils.Database, references: list[tuple[str, str, str, float]]
) -> bool:
    """Does the stored reference differ from this full rescore's?"""
    stored = db.conn.execute(
        "SELECT account_id, week, tier, usage_per_seat FROM score_reference ORDER BY account_id"
    ).fetchall()
    return stored != sorted(references)


def _store(
    db: sqlite_utils.Database,
    account_ids: Collection[str] | None,
    ids: list[str],
    computed_at: str,
    writes: _Writes,
    references: list[tuple[str, str, str, float]] | None,
    past_rows: list[tuple[str, str, int]],
    today_text: str,
) -> None:
    """Write the changed scores and history, and ``references`` when given, in one transaction.

    Scores of accounts no longer active (of ``account_ids``, or of the whole book) are deleted.
    A rewritten score gets this ``computed_at``; one found unchanged keeps its own if it is of
    the same (UTC) day, else gets this one: rewriting the timestamp of every row of the book
    rewrites the whole table, and what reads it (``csm-tui today``) asks for the day.
    """
    from csm_tui.store.transaction import transaction  # (sqlite-utils: see the imports)

    if account_ids is None:
        active = set(ids)
        gone = [
            r[0] for r in db.conn.execute("SELECT account_id FROM scores") if r[0] not in active
        ]
    else:
        gone = sorted(set(account_ids) - set(ids))
    only, params = "", []
    if account_ids is not None:
        only = " AND account_id IN (SELECT value FROM json_each(?))"
        params = [json.dumps(sorted(set(account_ids)))]
    with transaction(db):
        if gone:
            db.execute(
                "DELETE FROM scores WHERE account_id IN (SELECT value FROM json_each(?))",
                [json.dumps(gone)],
            )
        db.conn.execute(
            "UPDATE scores SET computed_at = ? WHERE computed_at < ?" + only,
            [computed_at, computed_at[:10], *params],
        )
        db.conn.executemany(
            "INSERT OR REPLACE INTO scores (account_id, computed_at, health, band, drivers, "
            "stage, stage_reason, tier, priority, reasons, trend, opportunity) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            writes.new,
        )
        # In place (a REPLACE deletes and inserts the row and its index entries: 2-3x slower).
        db.conn.executemany(
            "UPDATE scores SET computed_at = ?, health = ?, band = ?, drivers = ?, stage = ?, "
            "stage_reason = ?, tier = ?, priority = ?, reasons = ?, trend = ?, opportunity = ? "
            "WHERE account_id = ?",
            [row[1:] + row[:1] for row in writes.changed],
        )
        if references is not None:
            # Only a full rescore writes the reference: it must cover the whole book at once.
            db.execute("DELETE FROM score_reference")
            db.conn.executemany(
                "INSERT INTO score_reference (account_id, week, tier, usage_per_seat) "
                "VALUES (?, ?, ?, ?)",
                references,
            )
        db.conn.executemany(
            "INSERT OR REPLACE INTO score_history (account_id, week, health) VALUES (?, ?, ?)",
            past_rows + writes.history,
        )
        # Today's snapshot of what was rescored (the digest compares two days).
        db.conn.execute(
            "INSERT OR REPLACE INTO score_days (account_id, day, health, band, stage, drivers) "
            "SELECT account_id, ?, health, band, stage, drivers FROM scores WHERE 1 = 1" + only,
            [today_text, *params],
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
                f'{_component_json(d.component)}{d.points!r}, "max": {d.max!r}, '
                f'"reason": {_json_string(d.reason)}}}'
                for d in drivers
            ]
        )
        + "]"
    )


_COMPONENT_JSON: dict[str, str] = {}


def _component_json(component: str) -> str:
    """A driver's JSON up to its points (the same six texts for every account)."""
    found = _COMPONENT_JSON.get(component)
    if found is None:
        found = f'{{"component": {_json_string(component)}, "points": '
        _COMPONENT_JSON[component] = found
    return found


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
    current = today - timedelta(days=today.weekday())  # week_start(today), 10,000 times
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
    share = arr_share(acc.arr, book.arr_places.get(acc.id, book.arrs))
    # Stored in ``opportunity``: 0 for none, else 1-100, so opportunities rank among themselves.
    strength = (
        expansion_strength(
            acc,
            seats_used=inp.seats_used,
            usage_ratio=h.usage.growth_ratio,
            arr_share=share,
            today=today,
        )
        if opportunity
        else 0
    )
    last_touch = None
    for t in inp.touches:
        if t.occurred <= today and (last_touch is None or t.occurred > last_touch):
            last_touch = t.occurred
    overdue = [s.due for s in inp.next_steps if s.due is not None and s.due < today]
    priority = attention(
        PriorityInput(  # by position: keywords cost a microsecond more, 10,000 times
            h.score,  # health
            h.band,  # band
            trend,  # trend
            acc.renewal_date,  # renewal_date
            last_touch,  # last_touch
            ctx.cadence_days,  # cadence_days
            share,  # arr_share
            len(overdue),  # overdue_steps
            max((today - d).days for d in overdue) if overdue else 0,  # oldest_overdue_days
            stage.name,  # stage
            _cause_chip(h),  # cause_chip
            opportunity,  # opportunity
            dropped,  # dropped
            sum(1 for t in inp.tickets if t.escalation_open_on(today)),  # escalations
            None if h.usage.growth_ratio is None else h.usage.growth_ratio - 1,  # usage_change
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
        strength,
    )
