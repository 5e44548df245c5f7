"""What the enroll preview needs from the cache: the sequences, and the chosen accounts' contacts,
owners and enrollment history as the plain data `csm_tui.domain.enrollment` works on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import sqlite_utils

from csm_tui.domain.enrollment import (
    EnrollAccount,
    EnrollContact,
    EnrollmentPlan,
    PastEnrollment,
    plan_enrollment,
)
from csm_tui.domain.models import Ticket
from csm_tui.store.actions import EnrollmentRequest
from csm_tui.store.dates import cache_day


@dataclass(frozen=True)
class SequenceChoice:
    """A sequence synced from the CRM."""

    id: str
    name: str
    steps: int | None


@dataclass(frozen=True)
class EnrollInputs:
    """Everything the preview is computed from."""

    sequences: tuple[SequenceChoice, ...]
    accounts: tuple[EnrollAccount, ...]
    contacts: tuple[EnrollContact, ...]
    enrollments: tuple[PastEnrollment, ...]

    def plan(self, audience: str, today: date, include_escalated: bool = False) -> EnrollmentPlan:
        """The preview for one audience (see `csm_tui.domain.enrollment.plan_enrollment`)."""
        return plan_enrollment(
            self.accounts,
            self.contacts,
            self.enrollments,
            audience=audience,
            today=today,
            include_escalated=include_escalated,
        )


def _chunks(ids: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    # SQLite limits bound parameters per statement; a manager may mark thousands of accounts.
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _name(first: str | None, last: str | None, email: str | None) -> str:
    full = " ".join(p for p in ((first or "").strip(), (last or "").strip()) if p)
    return full or (email or "").strip() or "(no name)"


def _open_escalations(
    db: sqlite_utils.Database, chunk: Sequence[str], marks: str, today: date
) -> dict[str, int]:
    """Open escalations per account, by the rule ranking uses (Ticket.escalation)."""
    found: dict[str, int] = {}
    for r in db.query(
        "SELECT account_id, created_at, closed_at, LOWER(COALESCE(status, '')) AS status, "
        "priority, escalated FROM tickets WHERE archived = 0 AND (escalated = 1 OR "
        f"UPPER(priority) = 'URGENT') AND account_id IN ({marks})",
        list(chunk),
    ):
        opened = cache_day(r["created_at"])
        if opened is None:
            continue
        ticket = Ticket(
            opened,
            cache_day(r["closed_at"]),
            r["status"] == "closed",
            (r["priority"] or "").upper(),
            None if r["escalated"] is None else bool(r["escalated"]),
        )
        if ticket.escalation_open_on(today):
            account = str(r["account_id"])
            found[account] = found.get(account, 0) + 1
    return found


def load_enroll_inputs(
    db: sqlite_utils.Database, account_ids: Sequence[str], today: date
) -> EnrollInputs:
    """Read the sequences and the given accounts' contacts, owners and enrollments."""
    sequences = tuple(
        SequenceChoice(str(r["id"]), r["name"] or str(r["id"]), r["steps"])
        for r in db.query(
            "SELECT id, MIN(name) AS name, MAX(steps) AS steps FROM sequences GROUP BY id "
            "ORDER BY name COLLATE NOCASE, id"
        )
    )
    wanted = list(dict.fromkeys(str(a) for a in account_ids))
    accounts: list[EnrollAccount] = []
    contacts: list[EnrollContact] = []
    enrollments: list[PastEnrollment] = []
    for chunk in _chunks(wanted):
        marks = ",".join("?" for _ in chunk)
        escalations = _open_escalations(db, chunk, marks, today)
        for r in db.query(
            "SELECT a.id, a.name, a.churned_on, o.email AS owner_email, o.user_id "
            f"FROM accounts a LEFT JOIN owners o ON o.id = a.owner_id WHERE a.id IN ({marks})",
            list(chunk),
        ):
            churned_on = cache_day(r["churned_on"])
            accounts.append(
                EnrollAccount(
                    id=str(r["id"]),
                    name=r["name"] or str(r["id"]),
                    churned=churned_on is not None and churned_on <= today,
                    sender_email=r["owner_email"] or None,
                    user_id=str(r["user_id"]) if r["user_id"] else None,
                    open_escalations=escalations.get(str(r["id"]), 0),
                )
            )
        for r in db.query(
            "SELECT id, account_id, first_name, last_name, email, role, unsubscribed, bounced "
            f"FROM contacts WHERE archived = 0 AND account_id IN ({marks})",
            list(chunk),
        ):
            contacts.append(
                EnrollContact(
                    id=str(r["id"]),
                    account_id=str(r["account_id"]),
                    name=_name(r["first_name"], r["last_name"], r["email"]),
                    email=(r["email"] or "").strip() or None,
                    role=r["role"] or "user",
                    unsubscribed=bool(r["unsubscribed"]),
                    bounced=bool(r["bounced"]),
                )
            )
    contact_ids = [c.id for c in contacts]
    for chunk in _chunks(contact_ids):
        marks = ",".join("?" for _ in chunk)
        for r in db.query(
            "SELECT contact_id, sequence_id, state, enrolled_at FROM enrollments "
            f"WHERE contact_id IN ({marks})",
            list(chunk),
        ):
            enrollments.append(
                PastEnrollment(
                    contact_id=str(r["contact_id"]),
                    sequence_id=str(r["sequence_id"]),
                    state=r["state"] or "",
                    enrolled_on=cache_day(r["enrolled_at"]),
                )
            )
    return EnrollInputs(sequences, tuple(accounts), tuple(contacts), tuple(enrollments))


def enrollment_requests(plan: EnrollmentPlan, sequence_id: str) -> list[EnrollmentRequest]:
    """The requests for every included contact of ``plan``, sent as the account's owner."""
    return [
        EnrollmentRequest(
            contact_id=item.contact.id,
            account_id=item.account.id,
            sequence_id=sequence_id,
            sender_email=item.account.sender_email or "",
            user_id=item.account.user_id or "",
        )
        for item in plan.included
    ]
