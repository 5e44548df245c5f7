"""The facts `csm-tui digest` reads from the cache, turned into changes by domain/digest.py."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from csm_tui.domain.digest import (
    Change,
    band_change,
    fell_off_a_cliff,
    ordered,
    renewal_milestones,
    went_quiet,
)
from csm_tui.store.dates import cache_day
from csm_tui.store.db import Connected


def changes_since(db: Connected, since: date, today: date) -> list[Change]:
    """Everything that changed in the book after ``since`` and by ``today``, worst first."""
    names = {r[0]: r[1] or r[0] for r in db.conn.execute("SELECT id, name FROM accounts")}
    found: list[Change] = []
    found += _bands(db, names, since, today)
    found += _escalations(db, names, since, today)
    found += _cliffs(db, names, since, today)
    found += _quiet(db, names, since, today)
    found += _detractors(db, names, since, today)
    found += _renewals(db, names, since, today)
    found += _failed_pushes(db, since)
    return ordered(found)


def _bands(db: Connected, names: dict[str, str], since: date, today: date) -> list[Change]:
    rows = db.conn.execute(
        "SELECT a.id, b.band, b.health, n.band, n.health FROM accounts a "
        "JOIN score_days n ON n.account_id = a.id AND n.day = (SELECT MAX(day) FROM score_days "
        "WHERE account_id = a.id AND day <= ?) "
        "JOIN score_days b ON b.account_id = a.id AND b.day = (SELECT MAX(day) FROM score_days "
        "WHERE account_id = a.id AND day <= ?) WHERE a.archived = 0",
        [today.isoformat(), since.isoformat()],
    ).fetchall()
    out = []
    for account, before, was, after, now in rows:
        kind = band_change(before, after)
        if kind is not None:
            text = f"health {was} {before} -> {now} {after}"
            out.append(Change(kind, account, names.get(account, account), text))
    return out


def _escalations(db: Connected, names: dict[str, str], since: date, today: date) -> list[Change]:
    rows = db.conn.execute(
        "SELECT account_id, subject, created_at, escalated FROM tickets "
        "WHERE archived = 0 AND status = 'open' AND (escalated = 1 OR upper(priority) = 'URGENT')"
    ).fetchall()
    out = []
    for account, subject, created, escalated in rows:
        day = cache_day(created)
        if day is not None and since < day <= today and account in names:
            what = "escalation" if escalated else "urgent ticket"
            out.append(
                Change("escalation", account, names[account], f"{what} opened: {subject or ''}")
            )
    return out


def _cliffs(db: Connected, names: dict[str, str], since: date, today: date) -> list[Change]:
    weekly: dict[str, list[tuple[date, float]]] = defaultdict(list)
    for account, week, count in db.conn.execute(
        "SELECT account_id, week, SUM(count) FROM usage_weekly GROUP BY account_id, week"
    ):
        day = cache_day(week)
        if day is not None:
            weekly[account].append((day, float(count or 0)))
    out = []
    for account, rows in weekly.items():
        change = fell_off_a_cliff(rows, since, today)
        if change is not None and account in names:
            text = f"usage {round(change * 100)}% vs the 8 weeks before"
            out.append(Change("usage_cliff", account, names[account], text))
    return out


def _quiet(db: Connected, names: dict[str, str], since: date, today: date) -> list[Change]:
    rows = db.conn.execute(
        "SELECT account_id, email, role, last_active FROM contacts "
        "WHERE archived = 0 AND role IN ('admin', 'champion')"
    ).fetchall()
    out = []
    for account, email, role, last_active in rows:
        if account in names and went_quiet(cache_day(last_active), since, today):
            out.append(
                Change("went_quiet", account, names[account], f"{role} {email} quiet 30 days")
            )
    return out


def _detractors(db: Connected, names: dict[str, str], since: date, today: date) -> list[Change]:
    rows = db.conn.execute(
        "SELECT account_id, score, comment, submitted_at FROM survey_responses "
        "WHERE archived = 0 AND lower(kind) = 'nps' AND score <= 6"
    ).fetchall()
    out = []
    for account, score, comment, submitted in rows:
        day = cache_day(submitted)
        if day is not None and since < day <= today and account in names:
            said = f": {comment}" if comment else ""
            out.append(Change("detractor", account, names[account], f"NPS {score}{said}"))
    return out


def _renewals(db: Connected, names: dict[str, str], since: date, today: date) -> list[Change]:
    out = []
    for account, renewal in db.conn.execute(
        "SELECT id, renewal_date FROM accounts WHERE archived = 0"
    ):
        for days in renewal_milestones(cache_day(renewal), since, today):
            out.append(Change("renewal", account, names[account], f"renews in {days} days"))
    return out


def _failed_pushes(db: Connected, since: date) -> list[Change]:
    rows = db.conn.execute(
        "SELECT id, kind, last_error, updated_at FROM outbox WHERE state = 'failed'"
    ).fetchall()
    out = []
    for item, kind, error, updated in rows:
        day = cache_day(updated)
        if day is not None and day > since:
            text = f"{kind} {item[:8]} failed to push: {error or 'no reason given'}"
            out.append(Change("push_failed", "", "", text))
    return out
