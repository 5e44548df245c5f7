"""One account's detail (the side pane, the account screen) and its contacts for the forms.

Apart from views.py because nothing of it is needed for the first screen: its dataclasses are
created (~5 ms) when the first detail is read, in a worker, after the list is on screen.
Plain data out (frozen dataclasses), one connection in; nothing here imports textual.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from csm_tui.store.views import reason_chips

if TYPE_CHECKING:
    import sqlite_utils

TIMELINE_LIMIT = 30
USAGE_WEEKS = 26


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
    """A contact with title, role, phones, last activity and sequence state."""

    contact_id: str
    name: str
    email: str
    title: str
    role: str
    last_active: str | None
    sequence: str
    phone: str = ""
    mobile_phone: str = ""


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
                phone=r["phone"] or "",
                mobile_phone=r["mobile_phone"] or "",
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
        reasons=reason_chips(score.get("reasons")),
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
