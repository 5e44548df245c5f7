"""Read models for the UI: the attention rows, one account's detail, and the status line.

Plain data out (frozen dataclasses), one connection in; nothing here imports textual. The UI calls
these from thread workers, each with its own connection.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from csm_tui.domain.segments import Segment, SegmentView, find_segment, segment_matches
from csm_tui.store.dates import cache_day

if TYPE_CHECKING:
    import sqlite3

    import sqlite_utils

    # The opening reads (attention rows, status) take a plain connection: sqlite-utils is not
    # imported before the first screen is drawn. Both have the same execute().
    Reader = sqlite3.Connection | sqlite_utils.Database

# The first screen reads at most this many rows: one bounded query even for a huge book.
ATTENTION_LIMIT = 20_000
TIMELINE_LIMIT = 30
USAGE_WEEKS = 26


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


@dataclass(frozen=True, slots=True)
class Driver:
    """One health component: its points out of its maximum, and why."""

    component: str
    points: float
    max: float
    reason: str


@dataclass(frozen=True, slots=True)
class TouchRow:
    """A touch on the timeline; ``waiting`` when it is local and not yet pushed."""

    occurred_at: str
    kind: str
    summary: str
    sentiment: str | None
    contact: str
    waiting: bool


@dataclass(frozen=True, slots=True)
class NextStepRow:
    """An open next step."""

    title: str
    due_date: str | None
    overdue: bool


@dataclass(frozen=True, slots=True)
class ContactRow:
    """A contact with role, last activity and sequence state."""

    contact_id: str
    name: str
    email: str
    title: str
    role: str
    last_active: str | None
    sequence: str


@dataclass(frozen=True, slots=True)
class TicketRow:
    """An open support ticket."""

    subject: str
    priority: str
    created_at: str | None
    escalated: bool


@dataclass(frozen=True, slots=True)
class DealRow:
    """A CRM deal (new business, renewal, expansion)."""

    name: str
    stage: str
    kind: str
    amount: float | None
    close_date: str | None


@dataclass(frozen=True, slots=True)
class SurveyRow:
    """A survey answer (NPS or CSAT)."""

    kind: str
    score: int
    submitted_at: str | None
    comment: str


@dataclass(frozen=True)
class AccountDetail:
    """Everything the detail pane and the account screen show about one account."""

    account_id: str
    name: str
    domain: str
    owner: str
    arr: float | None
    seats: int | None
    renewal_date: str | None
    contract_start: str | None
    industry: str
    churned_on: str | None
    health: int | None
    band: str | None
    trend: int | None
    stage: str | None
    stage_reason: str
    tier: str | None
    reasons: tuple[str, ...]
    opportunity: bool
    snoozed_until: str | None
    drivers: list[Driver] = field(default_factory=list)
    usage: list[tuple[str, int]] = field(default_factory=list)
    score_history: list[tuple[str, int]] = field(default_factory=list)
    touches: list[TouchRow] = field(default_factory=list)
    next_steps: list[NextStepRow] = field(default_factory=list)
    contacts: list[ContactRow] = field(default_factory=list)
    tickets: list[TicketRow] = field(default_factory=list)
    deals: list[DealRow] = field(default_factory=list)
    nps: SurveyRow | None = None
    csat: SurveyRow | None = None


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """What the status line shows about sync and the outbox."""

    last_synced: str | None
    last_error: str | None
    waiting: int
    failed: int
    accounts: int


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _chips(raw: str | None) -> tuple[str, ...]:
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
) -> list[AttentionItem]:
    """Accounts ranked by stored priority, snoozed and archived ones left out.

    ``text`` matches the name, the domain, or the summary of any touch (notes); ``account_ids``
    keeps only those accounts (a segment).
    """
    where = [
        "a.archived = 0",
        "NOT EXISTS (SELECT 1 FROM snoozes z WHERE z.account_id = a.id AND z.until > ?)",
    ]
    params: list[Any] = [today.isoformat()]
    if text and text.strip():
        pattern = _like(text.strip())
        where.append(
            "(a.name LIKE ? ESCAPE '\\' OR a.domain LIKE ? ESCAPE '\\' OR EXISTS "
            "(SELECT 1 FROM touches t WHERE t.account_id = a.id AND t.summary LIKE ? ESCAPE '\\'))"
        )
        params += [pattern, pattern, pattern]
    if account_ids is not None:
        where.append("a.id IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(list(account_ids)))
    whole_book = account_ids is None and not (text and text.strip())
    if limit < ATTENTION_LIMIT and whole_book:
        # A first page of the whole book: sorting every account for one screen of rows costs
        # ~25 ms at 10,000 accounts. Every account whose priority is at least that of the
        # (2 x limit)-th score (read through idx_scores_priority) holds the top ``limit``
        # unless snoozed or archived ones thin it out; then the whole sort below answers.
        floor = db.execute(
            "SELECT priority FROM scores ORDER BY priority DESC LIMIT 1 OFFSET ?", [2 * limit - 1]
        ).fetchone()
        if floor is not None and (floor[0] or 0) > 0:
            top = _attention_query(db, [*where, "s.priority >= ?"], [*params, floor[0]], limit)
            if len(top) == limit:
                return top
    return _attention_query(db, where, params, limit)


def _attention_query(
    db: Reader, where: list[str], params: list[Any], limit: int
) -> list[AttentionItem]:
    sql = (
        "SELECT a.id, a.name, a.domain, a.arr, a.renewal_date, s.health, s.band, s.trend, "
        "s.stage, s.tier, COALESCE(s.priority, 0) AS priority, s.reasons, s.opportunity "
        "FROM accounts a LEFT JOIN scores s ON s.account_id = a.id "
        f"WHERE {' AND '.join(where)} "
        "ORDER BY COALESCE(s.priority, 0) DESC, a.name, a.id LIMIT ?"
    )
    params = [*params, limit]
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
            reasons=_chips(r[11]),
            opportunity=bool(r[12]),
        )
        for r in db.execute(sql, params).fetchall()
    ]


def attention_row(db: sqlite_utils.Database, account_id: str, today: date) -> AttentionItem | None:
    """One account's attention row, or None when it is snoozed, archived or unknown."""
    found = attention_rows(db, today, account_ids=[account_id], limit=1)
    return found[0] if found else None


def _one(db: sqlite_utils.Database, sql: str, params: list[Any]) -> dict[str, Any] | None:
    return next(iter(db.query(sql, params)), None)


def _person(first: str | None, last: str | None, email: str | None) -> str:
    name = f"{first or ''} {last or ''}".strip()
    return name or (email or "")


def _sequence_states(db: sqlite_utils.Database, account_id: str) -> dict[str, str]:
    """Each contact's latest enrollment, as 'queued in <sequence>' / 'active in <sequence>'."""
    states: dict[str, str] = {}
    rows = db.query(
        "SELECT e.contact_id, e.state, e.enrolled_at, COALESCE(q.name, e.sequence_id) AS seq "
        "FROM enrollments e LEFT JOIN sequences q ON q.id = e.sequence_id "
        "WHERE e.contact_id IN (SELECT id FROM contacts WHERE account_id = ?) "
        "ORDER BY e.enrolled_at",
        [account_id],
    )
    for row in rows:  # later rows win: the latest enrollment is the state that matters
        states[row["contact_id"]] = f"{row['state']} in {row['seq']}"
    return states


def account_detail(db: sqlite_utils.Database, account_id: str, today: date) -> AccountDetail | None:
    """Everything about one account, or None if it is not in the cache."""
    acc = _one(db, "SELECT * FROM accounts WHERE id = ?", [account_id])
    if acc is None:
        return None
    score = _one(db, "SELECT * FROM scores WHERE account_id = ?", [account_id]) or {}
    owner = _one(db, "SELECT * FROM owners WHERE id = ?", [acc.get("owner_id") or ""])
    snooze = _one(
        db,
        "SELECT until FROM snoozes WHERE account_id = ? AND until > ?",
        [account_id, today.isoformat()],
    )
    drivers: list[Driver] = []
    try:
        for d in json.loads(score.get("drivers") or "[]"):
            drivers.append(
                Driver(
                    component=str(d.get("component", "")),
                    points=float(d.get("points") or 0),
                    max=float(d.get("max") or 0),
                    reason=str(d.get("reason") or ""),
                )
            )
    except (ValueError, AttributeError, TypeError):
        drivers = []
    since = (today - timedelta(weeks=USAGE_WEEKS)).isoformat()
    usage = [
        (r[0], int(r[1] or 0))
        for r in db.execute(
            "SELECT week, SUM(count) FROM usage_weekly WHERE account_id = ? AND week >= ? "
            "GROUP BY week ORDER BY week",
            [account_id, since],
        ).fetchall()
    ]
    history = [
        (r[0], int(r[1]))
        for r in db.execute(
            "SELECT week, health FROM score_history WHERE account_id = ? ORDER BY week DESC "
            "LIMIT ?",
            [account_id, USAGE_WEEKS],
        ).fetchall()
    ][::-1]
    waiting = {
        r[0]
        for r in db.execute(
            "SELECT ref_id FROM outbox WHERE kind = 'touch' AND state IN ('pending', 'failed') "
            "AND ref_id IN (SELECT id FROM touches WHERE account_id = ?)",
            [account_id],
        ).fetchall()
    }
    touches = [
        TouchRow(
            occurred_at=r["occurred_at"],
            kind=r["kind"],
            summary=r["summary"] or "",
            sentiment=r["sentiment"],
            contact=_person(r["first_name"], r["last_name"], r["email"]),
            waiting=r["id"] in waiting,
        )
        for r in db.query(
            "SELECT t.*, c.first_name, c.last_name, c.email FROM touches t "
            "LEFT JOIN contacts c ON c.id = t.contact_id WHERE t.account_id = ? "
            "ORDER BY t.occurred_at DESC LIMIT ?",
            [account_id, TIMELINE_LIMIT],
        )
    ]
    steps = [
        NextStepRow(
            title=r["title"],
            due_date=r["due_date"],
            overdue=bool(r["due_date"] and r["due_date"] < today.isoformat()),
        )
        for r in db.query(
            "SELECT title, due_date FROM next_steps WHERE account_id = ? AND done = 0 "
            "ORDER BY due_date IS NULL, due_date LIMIT ?",
            [account_id, TIMELINE_LIMIT],
        )
    ]
    sequences = _sequence_states(db, account_id)
    contacts: list[ContactRow] = []
    for r in db.query(
        "SELECT * FROM contacts WHERE account_id = ? AND archived = 0 "
        "ORDER BY CASE role WHEN 'champion' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, "
        "last_active DESC LIMIT 50",
        [account_id],
    ):
        seq = sequences.get(r["id"], "")
        if r["unsubscribed"]:
            seq = "unsubscribed" + (f" · {seq}" if seq else "")
        elif r["bounced"]:
            seq = "bounced" + (f" · {seq}" if seq else "")
        contacts.append(
            ContactRow(
                contact_id=r["id"],
                name=_person(r["first_name"], r["last_name"], r["email"]),
                email=r["email"] or "",
                title=r["title"] or "",
                role=r["role"] or "user",
                last_active=r["last_active"],
                sequence=seq,
            )
        )
    tickets = [
        TicketRow(
            subject=r["subject"] or "",
            priority=r["priority"] or "",
            created_at=r["created_at"],
            escalated=bool(r["escalated"]),
        )
        for r in db.query(
            "SELECT * FROM tickets WHERE account_id = ? AND archived = 0 AND status = 'open' "
            "ORDER BY created_at DESC LIMIT 20",
            [account_id],
        )
    ]

    deals = [
        DealRow(
            name=r["name"] or "",
            stage=r["stage"] or "",
            kind=r["kind"] or "",
            amount=r["amount"],
            close_date=r["close_date"],
        )
        for r in db.query(
            "SELECT * FROM deals WHERE account_id = ? AND archived = 0 "
            "ORDER BY close_date DESC LIMIT 10",
            [account_id],
        )
    ]

    def latest(kind: str) -> SurveyRow | None:
        row = _one(
            db,
            "SELECT * FROM survey_responses WHERE account_id = ? AND kind = ? AND archived = 0 "
            "ORDER BY submitted_at DESC LIMIT 1",
            [account_id, kind],
        )
        if row is None:
            return None
        return SurveyRow(kind, int(row["score"]), row["submitted_at"], row["comment"] or "")

    return AccountDetail(
        account_id=account_id,
        name=acc.get("name") or "",
        domain=acc.get("domain") or "",
        owner=_person(owner.get("first_name"), owner.get("last_name"), owner.get("email"))
        if owner
        else "",
        arr=acc.get("arr"),
        seats=acc.get("seats"),
        renewal_date=acc.get("renewal_date"),
        contract_start=acc.get("contract_start"),
        industry=acc.get("industry") or "",
        churned_on=acc.get("churned_on"),
        health=score.get("health"),
        band=score.get("band"),
        trend=score.get("trend"),
        stage=score.get("stage"),
        stage_reason=score.get("stage_reason") or "",
        tier=score.get("tier"),
        reasons=_chips(score.get("reasons")),
        opportunity=bool(score.get("opportunity")),
        snoozed_until=snooze["until"] if snooze else None,
        drivers=drivers,
        usage=usage,
        score_history=history,
        touches=touches,
        next_steps=steps,
        contacts=contacts,
        tickets=tickets,
        deals=deals,
        nps=latest("nps"),
        csat=latest("csat"),
    )


def status_info(db: Reader) -> StatusInfo:
    """Last successful sync, last error, the outbox counts and the number of accounts."""
    sync = db.execute(
        "SELECT MAX(last_success), (SELECT last_error FROM sync_state WHERE last_error IS NOT NULL "
        "AND last_error != '' ORDER BY sync_started_at DESC LIMIT 1) FROM sync_state"
    ).fetchone()
    counts = dict(db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())
    accounts = db.execute("SELECT COUNT(*) FROM accounts WHERE archived = 0").fetchone()[0]
    return StatusInfo(
        last_synced=sync[0],
        last_error=sync[1],
        waiting=int(counts.get("pending", 0)),
        failed=int(counts.get("failed", 0)),
        accounts=int(accounts),
    )


def contact_choices(db: sqlite_utils.Database, account_id: str) -> list[tuple[str, str]]:
    """(contact id, "Name <email>") pairs for the log-touch form."""
    return [
        (r["id"], f"{_person(r['first_name'], r['last_name'], r['email'])} <{r['email'] or ''}>")
        for r in db.query(
            "SELECT id, first_name, last_name, email FROM contacts WHERE account_id = ? "
            "AND archived = 0 ORDER BY last_active DESC LIMIT 100",
            [account_id],
        )
    ]


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
