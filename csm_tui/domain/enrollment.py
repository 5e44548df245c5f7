"""Who may be enrolled in a sequence, and who is left out and why (plain data in, plain data out).

The preview of the enroll modal shows exactly this plan, so a CSM sees every exclusion before
anything is queued: the CRM would refuse some of them (unsubscribed, bounced, already enrolled),
and the rest protect customers from being emailed twice, or while an escalation is open (a
nurture email in the middle of an escalation reads as not listening; the CSM may include them).
A batch of more than TYPED_CONFIRMATION_ABOVE contacts is confirmed by typing its size.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

# Which contacts of the chosen accounts are wanted.
AUDIENCES: dict[str, str] = {
    "admins": "Admins",
    "champions": "Champions",
    "admins_champions": "Admins and champions",
    "everyone": "Everyone with an email",
}
_ROLES_OF_AUDIENCE: dict[str, frozenset[str] | None] = {
    "admins": frozenset({"admin"}),
    "champions": frozenset({"champion"}),
    "admins_champions": frozenset({"admin", "champion"}),
    "everyone": None,  # every role
}

# Exclusion reasons, in the order they are checked: a contact gets the first that applies.
CHURNED = "churned account"
OPEN_ESCALATION = "open escalation"
NO_SENDER = "account owner unknown (no HubSpot user to send as)"
NO_EMAIL = "no email"
UNSUBSCRIBED = "unsubscribed"
BOUNCED = "email bounced"
ALREADY_ENROLLED = "already enrolled in a sequence"
RECENTLY_ENROLLED = "enrolled in the last {days} days"

# Enrollment states that mean "in a sequence now" (queued ones are waiting to be pushed).
ACTIVE_STATES = frozenset({"active", "queued"})
RECENT_DAYS = 30
# More contacts than this are enrolled only after the CSM types how many (one Enter is too easy
# for a thousand emails).
TYPED_CONFIRMATION_ABOVE = 50


@dataclass(frozen=True)
class EnrollAccount:
    """An account whose contacts may be enrolled."""

    id: str
    name: str
    churned: bool = False
    sender_email: str | None = None  # the account owner's email
    user_id: str | None = None  # the account owner's HubSpot user id
    open_escalations: int = 0  # open escalated or urgent tickets, as ranking counts them


@dataclass(frozen=True)
class EnrollContact:
    """A contact of one of those accounts."""

    id: str
    account_id: str
    name: str
    email: str | None
    role: str = "user"  # admin / champion / user
    unsubscribed: bool = False
    bounced: bool = False


@dataclass(frozen=True)
class PastEnrollment:
    """A contact's enrollment in a sequence, current or past."""

    contact_id: str
    sequence_id: str
    state: str  # queued / active / finished / failed
    enrolled_on: date | None


@dataclass(frozen=True)
class Included:
    """A contact that will be enrolled, with its account."""

    contact: EnrollContact
    account: EnrollAccount


@dataclass(frozen=True)
class Excluded:
    """A contact left out, and why (one line)."""

    contact: EnrollContact
    account: EnrollAccount
    reason: str


@dataclass(frozen=True)
class EnrollmentPlan:
    """The preview: who is in, who is out and why."""

    included: tuple[Included, ...]
    excluded: tuple[Excluded, ...]
    accounts: int  # accounts asked for
    accounts_without_anyone: tuple[EnrollAccount, ...]  # none of their contacts can be enrolled
    escalated: tuple[EnrollAccount, ...] = ()  # accounts with an open escalation
    escalated_included: bool = False  # True: their contacts were not left out for it

    @property
    def accounts_included(self) -> int:
        """How many accounts have at least one contact enrolled."""
        return len({item.account.id for item in self.included})

    def reason_counts(self) -> dict[str, int]:
        """Excluded contacts per reason, most frequent first."""
        counts: dict[str, int] = {}
        for item in self.excluded:
            counts[item.reason] = counts.get(item.reason, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def needs_typed_confirmation(plan: EnrollmentPlan) -> bool:
    """True when the plan enrolls so many that the CSM must type how many."""
    return len(plan.included) > TYPED_CONFIRMATION_ABOVE


def typed_count_matches(plan: EnrollmentPlan, typed: str) -> bool:
    """Whether ``typed`` is the number of contacts the plan enrolls ('1110' or '1,110')."""
    digits = typed.strip().replace(",", "").replace(" ", "").replace("_", "")
    return digits.isdigit() and int(digits) == len(plan.included)


def in_audience(contact: EnrollContact, audience: str) -> bool:
    """True when the contact's role belongs to ``audience`` (see AUDIENCES)."""
    if audience not in _ROLES_OF_AUDIENCE:
        raise ValueError(f"unknown audience {audience!r}: choose one of {', '.join(AUDIENCES)}")
    roles = _ROLES_OF_AUDIENCE[audience]
    return roles is None or (contact.role or "user") in roles


def exclusion_reason(
    contact: EnrollContact,
    account: EnrollAccount,
    history: Iterable[PastEnrollment],
    today: date,
    recent_days: int = RECENT_DAYS,
    *,
    include_escalated: bool = False,
) -> str | None:
    """Why ``contact`` must not be enrolled today, or None when it may be.

    An account with an open escalation is left out unless ``include_escalated``.
    """
    if account.churned:
        return CHURNED
    if account.open_escalations and not include_escalated:
        return OPEN_ESCALATION
    if not account.sender_email or not account.user_id:
        return NO_SENDER
    if not (contact.email or "").strip():
        return NO_EMAIL
    if contact.unsubscribed:
        return UNSUBSCRIBED
    if contact.bounced:
        return BOUNCED
    past = list(history)
    if any(e.state in ACTIVE_STATES for e in past):
        return ALREADY_ENROLLED
    since = today - timedelta(days=recent_days)
    if any(e.enrolled_on is not None and e.enrolled_on > since for e in past):
        return RECENTLY_ENROLLED.format(days=recent_days)
    return None


def plan_enrollment(
    accounts: Iterable[EnrollAccount],
    contacts: Iterable[EnrollContact],
    enrollments: Iterable[PastEnrollment],
    *,
    audience: str,
    today: date,
    recent_days: int = RECENT_DAYS,
    include_escalated: bool = False,
) -> EnrollmentPlan:
    """Split the audience's contacts of ``accounts`` into included and excluded (with reasons).

    Contacts outside the audience are not listed at all; a contact listed twice counts once.
    Accounts with an open escalation are left out unless ``include_escalated``.
    """
    by_id = {a.id: a for a in accounts}
    history: dict[str, list[PastEnrollment]] = {}
    for e in enrollments:
        history.setdefault(e.contact_id, []).append(e)
    included: list[Included] = []
    excluded: list[Excluded] = []
    seen: set[str] = set()
    emails: set[str] = set()
    for contact in sorted(
        contacts, key=lambda c: (_account_name_of(by_id, c), c.name.lower(), c.id)
    ):
        account = by_id.get(contact.account_id)
        if account is None or contact.id in seen or not in_audience(contact, audience):
            continue
        seen.add(contact.id)
        reason = exclusion_reason(
            contact,
            account,
            history.get(contact.id, ()),
            today,
            recent_days,
            include_escalated=include_escalated,
        )
        email = (contact.email or "").strip().lower()
        if reason is None and email in emails:
            reason = "same email as another contact in this batch"
        if reason is None:
            emails.add(email)
            included.append(Included(contact, account))
        else:
            excluded.append(Excluded(contact, account, reason))
    reached = {item.account.id for item in included}
    ordered = sorted(by_id.values(), key=_account_key)
    without = tuple(a for a in ordered if a.id not in reached)
    escalated = tuple(a for a in ordered if a.open_escalations and not a.churned)
    return EnrollmentPlan(
        tuple(included), tuple(excluded), len(by_id), without, escalated, include_escalated
    )


def _account_name_of(by_id: dict[str, EnrollAccount], contact: EnrollContact) -> str:
    """Sort key: the name of the contact's account (so the preview groups by account)."""
    account = by_id.get(contact.account_id)
    return account.name.lower() if account else ""


def _account_key(account: EnrollAccount) -> tuple[str, str]:
    return (account.name.lower(), account.id)
