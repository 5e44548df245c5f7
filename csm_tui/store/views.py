"""Read models for the UI: the attention rows and the status line (one account's detail is in
store/detail.py).

Plain data out (frozen dataclasses), one connection in; nothing here imports textual. The UI calls
these from thread workers, each with its own connection.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from csm_tui.domain.segments import Segment, SegmentView, find_segment, segment_matches
from csm_tui.store.dates import cache_day
from csm_tui.store.search import match_clause, snippets

if TYPE_CHECKING:
    import sqlite3

    import sqlite_utils

    # The opening reads (attention rows, status) take a plain connection: sqlite-utils is not
    # imported before the first screen is drawn. Both have the same execute().
    Reader = sqlite3.Connection | sqlite_utils.Database

# The first screen reads at most this many rows: one bounded query even for a huge book.
ATTENTION_LIMIT = 20_000


@dataclass(frozen=True, slots=True)
class AttentionItem:
    """One row of the ranked attention list (light columns only)."""

    account_id: str
    name: str
    domain: str
    health: int | None
    band: str | None
    trend: int | None
    arr: float | None
    renewal_date: str | None
    stage: str | None
    tier: str | None
    priority: float
    reasons: tuple[str, ...]
    opportunity: bool
    last_touch: str | None = None  # instant of the latest touch
    expansion: int = 0  # an opportunity's strength, 1-100 (scores.opportunity): 0 for none
    snoozed_until: str | None = None  # the day a snoozed account comes back
    match: str | None = None  # where a filter matched: "note: …the \x02renewal\x03 call…"


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """What the status line shows about sync and the outbox."""

    last_synced: str | None
    last_error: str | None
    waiting: int
    failed: int
    accounts: int
    scored: int = 0  # accounts with a score (0 with accounts: the first sync has not ended)


def reason_chips(raw: str | None) -> tuple[str, ...]:
    """The reason chips stored as a JSON list; none for anything else."""
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def attention_rows(
    db: Reader,
    today: date,
    *,
    text: str | None = None,
    account_ids: Collection[str] | None = None,
    limit: int = ATTENTION_LIMIT,
    snoozed: bool = False,
    last_touch: bool = True,
) -> list[AttentionItem]:
    """Accounts ranked by stored priority, snoozed and archived ones left out.

    ``text``: only accounts every word of it matches (store/search.py), snoozed ones included
    (with the day they come back) and each with a snippet of where it matched; ``account_ids``
    keeps only those accounts (a segment); ``snoozed``: only the snoozed accounts;
    ``last_touch=False`` leaves each row's last touch out (a seek per account: a third of the
    whole book's read, wanted only to sort by it).
    """
    where = ["a.archived = 0"]
    params: list[Any] = []
    words, word_params = match_clause(text)
    if snoozed:
        where.append("z.account_id IS NOT NULL")
    elif not words:
        where.append("z.account_id IS NULL")
    where += words
    params += word_params
    if account_ids is not None:
        where.append("a.id IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(list(account_ids)))
    whole_book = account_ids is None and not words and not snoozed
    if limit < ATTENTION_LIMIT and whole_book:
        # A first page of the whole book: sorting every account for one screen of rows costs
        # ~25 ms at 10,000 accounts. Every account whose priority is at least that of the
        # (2 x limit)-th score (read through idx_scores_priority) holds the top ``limit``
        # unless snoozed or archived ones thin it out; then the whole sort below answers.
        floor = db.execute(
            "SELECT priority FROM scores ORDER BY priority DESC LIMIT 1 OFFSET ?", [2 * limit - 1]
        ).fetchone()
        if floor is not None and (floor[0] or 0) > 0:
            top = _attention_query(
                db, today, [*where, "s.priority >= ?"], [*params, floor[0]], limit, last_touch
            )
            if len(top) == limit:
                return top
    rows = _attention_query(db, today, where, params, limit, last_touch)
    if not words:
        return rows
    found = snippets(db, text, [r.account_id for r in rows])
    return [
        replace(r, match=f"{f.label}: {f.snippet}")
        if (f := found.get(r.account_id)) and f.kind != "account"  # the list shows the name
        else r
        for r in rows
    ]


def _attention_query(
    db: Reader,
    today: date,
    where: list[str],
    params: list[Any],
    limit: int,
    last_touch: bool = True,
) -> list[AttentionItem]:
    touched = (
        "(SELECT MAX(t.occurred_at) FROM touches t WHERE t.account_id = a.id)"
        if last_touch
        else "NULL"
    )
    sql = (
        "SELECT a.id, a.name, a.domain, a.arr, a.renewal_date, s.health, s.band, s.trend, "
        "s.stage, s.tier, COALESCE(s.priority, 0) AS priority, s.reasons, s.opportunity, "
        f"{touched}, z.until "
        "FROM accounts a LEFT JOIN scores s ON s.account_id = a.id "
        "LEFT JOIN snoozes z ON z.account_id = a.id AND z.until > ? "
        f"WHERE {' AND '.join(where)} "
        "ORDER BY COALESCE(s.priority, 0) DESC, a.name, a.id LIMIT ?"
    )
    params = [today.isoformat(), *params, limit]
    return [
        AttentionItem(
            account_id=r[0],
            name=r[1] or "",
            domain=r[2] or "",
            arr=r[3],
            renewal_date=r[4],
            health=r[5],
            band=r[6],
            trend=r[7],
            stage=r[8],
            tier=r[9],
            priority=float(r[10] or 0),
            reasons=reason_chips(r[11]),
            opportunity=bool(r[12]),
            expansion=int(r[12] or 0),
            last_touch=r[13],
            snoozed_until=r[14],
        )
        for r in db.execute(sql, params).fetchall()
    ]


def attention_row(
    db: sqlite_utils.Database, account_id: str, today: date, *, last_touch: bool = True
) -> AttentionItem | None:
    """One account's attention row, or None when it is snoozed, archived or unknown."""
    found = attention_rows(db, today, account_ids=[account_id], limit=1, last_touch=last_touch)
    return found[0] if found else None


def account_names(db: Reader) -> list[tuple[str, str, str]]:
    """(id, name, domain) of every account not archived, by name."""
    return [
        (r[0], r[1] or "", r[2] or "")
        for r in db.execute(
            "SELECT id, name, domain FROM accounts WHERE archived = 0 ORDER BY name, id"
        ).fetchall()
    ]


def status_info(db: Reader) -> StatusInfo:
    """Last successful sync, last error, the outbox counts and the number of accounts.

    "Synced" is the end of the last whole sync (sync_state's run row), not the last object a
    sync still in progress has written: the CRM's objects land one by one.
    """
    sync = db.execute(
        "SELECT (SELECT last_success FROM sync_state WHERE source = 'sync' AND object = 'run'), "
        "(SELECT last_error FROM sync_state WHERE last_error IS NOT NULL AND last_error != '' "
        "ORDER BY sync_started_at DESC LIMIT 1)"
    ).fetchone()
    counts = dict(db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())
    accounts = db.execute("SELECT COUNT(*) FROM accounts WHERE archived = 0").fetchone()[0]
    scored = db.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
    return StatusInfo(
        last_synced=sync[0],
        last_error=sync[1],
        waiting=int(counts.get("pending", 0)),
        failed=int(counts.get("failed", 0)),
        accounts=int(accounts),
        scored=int(scored),
    )


def parse_instant(text: str | None) -> datetime | None:
    """An ISO instant from the cache as an aware datetime (None when missing or unreadable)."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def segment_account_ids(
    db: sqlite_utils.Database,
    today: date,
    name: str,
    segments: Sequence[Segment],
    drop_points: int,
) -> list[str]:
    """Ids of the accounts in segment ``name`` (unknown segment: none), by the domain's rules."""
    segment = find_segment(name, segments)
    if segment is None:
        return []
    rows = db.execute(
        "SELECT a.id, a.name, a.domain, COALESCE(o.email, ''), s.stage, s.tier, s.band, "
        "a.renewal_date, (SELECT MAX(occurred_at) FROM touches t WHERE t.account_id = a.id), "
        "s.trend, s.opportunity "
        "FROM accounts a LEFT JOIN scores s ON s.account_id = a.id "
        "LEFT JOIN owners o ON o.id = a.owner_id WHERE a.archived = 0"
    ).fetchall()
    found: list[str] = []
    for r in rows:
        view = SegmentView(
            name=r[1] or "",
            domain=r[2] or "",
            owner=r[3],
            stage=r[4] or "",
            tier=r[5] or "",
            band=r[6],
            renewal_date=cache_day(r[7]),
            last_touch=cache_day(r[8]),
            dropped=r[9] is not None and r[9] <= -drop_points,
            opportunity=bool(r[10]),
        )
        if segment_matches(segment, view, today):
            found.append(r[0])
    return found
