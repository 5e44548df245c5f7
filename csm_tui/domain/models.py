"""Plain data the scoring rules read and write: accounts' inputs, rules, scores, drivers.

Everything here is a small dataclass built by the store from the cache; nothing does I/O. They are
values (hashed by their fields) and never changed once built, but not frozen: a frozen dataclass
sets each field through object.__setattr__, and a full rescore builds some 300,000 of them (~15% of
its CPU).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

# The vocabulary lives in a module of its own (cheap to import); named here too, as before.
from csm_tui.domain.vocabulary import BAND_SYMBOLS as BAND_SYMBOLS
from csm_tui.domain.vocabulary import COMPONENTS as COMPONENTS
from csm_tui.domain.vocabulary import GREEN as GREEN
from csm_tui.domain.vocabulary import RED as RED
from csm_tui.domain.vocabulary import STAGES as STAGES
from csm_tui.domain.vocabulary import TIERS as TIERS
from csm_tui.domain.vocabulary import YELLOW as YELLOW

# Terminal escape sequences (CSI, OSC, DCS/APC, two-byte ones), removed whole.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
# Zero-width, joiner, byte-order and bidi control characters: invisible, so removed outright.
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]+")
_SPACES = re.compile(r"\s{2,}")


def plain(text: str | None) -> str:
    """Untrusted text made safe to show on one line: escapes removed, controls become spaces."""
    text = _INVISIBLE.sub("", _ESCAPES.sub("", text or ""))
    return _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()


def week_start(day: date) -> date:
    """The Monday that starts ``day``'s week."""
    return day - timedelta(days=day.weekday())


@dataclass(slots=True, unsafe_hash=True)
class ScoringRules:
    """The scoring settings the domain needs (mirrors config's Scoring/Analytics sections)."""

    weights: Mapping[str, float] = field(
        default_factory=lambda: {
            "usage": 30,
            "adoption": 15,
            "people": 15,
            "relationship": 15,
            "support": 10,
            "sentiment": 15,
        }
    )
    green: int = 70
    yellow: int = 40
    trend_recent_weeks: int = 4
    trend_baseline_weeks: int = 8
    trend_full_ratio: float = 1.0
    trend_zero_ratio: float = 0.4
    people_active_days: int = 7
    people_inactive_days: int = 30
    power_user_quiet_days: int = 14
    overdue_step_penalty: int = 25
    ticket_open_days: int = 3
    ticket_open_penalty: int = 15
    ticket_escalated_penalty: int = 30
    ticket_low_csat_penalty: int = 20
    nps_max_age_days: int = 180
    drop_weeks: int = 4
    drop_points: int = 10
    key_features: tuple[str, ...] = (
        "report_created",
        "dashboard_shared",
        "export_run",
        "integration_connected",
        "automation_created",
    )
    activation_event: str = "project_created"
    event_weights: Mapping[str, float] = field(default_factory=dict)  # for naming the cause
    default_event_weight: float = 1.0
    expansion_seat_share: float = 0.9
    expansion_growth_ratio: float = 1.3
    power_users: int = 3


@dataclass(slots=True, unsafe_hash=True)
class Account:
    """An account as the CRM describes it."""

    id: str
    name: str
    domain: str = ""
    owner_id: str | None = None
    owner: str = ""  # owner's email (or name), for display and segments
    arr: float = 0.0
    seats: int | None = None
    contract_start: date | None = None
    renewal_date: date | None = None
    cs_stage: str | None = None
    churned_on: date | None = None
    renewal_lost_on: date | None = None


@dataclass(slots=True, unsafe_hash=True)
class WeekUsage:
    """One week of an account's product usage (weights applied)."""

    week: date
    points: float
    users: int  # the most distinct users of any one event: a lower bound of active users
    features: frozenset[str] = frozenset()  # events used that week (count > 0)


@dataclass(slots=True, unsafe_hash=True)
class RecentUsage:
    """An account's weekly usage as the score of one day reads it (the store may precompute it).

    ``points`` holds the weeks before the day's week, newest first: the recent window, then the
    baseline window (0.0 for a week without usage); ``users`` the recent window's weeks alike;
    ``features`` the events used in the weeks that overlap the 30 days before the day.
    """

    day: date
    points: tuple[float, ...]
    users: tuple[int, ...]
    features: frozenset[str] = frozenset()


@dataclass(slots=True, unsafe_hash=True)
class Person:
    """An admin or champion and when they were last seen in the product."""

    email: str
    role: str  # admin / champion
    last_active: date | None


@dataclass(slots=True, unsafe_hash=True)
class ProductUser:
    """A product user with their activity (power users are the most active)."""

    email: str
    events_30d: int
    last_seen: date | None


@dataclass(slots=True, unsafe_hash=True)
class Touch:
    """A touch: when, and how it felt."""

    occurred: date
    sentiment: str | None = None  # positive / neutral / negative


@dataclass(slots=True, unsafe_hash=True)
class NextStep:
    """An open next step."""

    title: str
    due: date | None
    created: date | None = None


@dataclass(slots=True, unsafe_hash=True)
class Ticket:
    """A support ticket."""

    created: date
    closed: date | None = None
    is_closed: bool = False
    priority: str = ""
    escalated: bool | None = False  # None: not known (no such property in the CRM)
    csat: int | None = None
    subject: str = ""

    def open_on(self, day: date) -> bool:
        """Was the ticket open at the end of ``day``?"""
        if self.created > day:
            return False
        if self.closed is not None:
            return self.closed > day
        return not self.is_closed

    @property
    def escalation(self) -> bool:
        """Escalated, or urgent: what the support score, the ranking, the enrollment's
        exclusions and the digest (in SQL, store/digest.py) count as an escalation."""
        return bool(self.escalated or self.priority.upper() == "URGENT")

    def escalation_open_on(self, day: date) -> bool:
        """An escalation open at the end of ``day``."""
        return self.open_on(day) and self.escalation


@dataclass(slots=True, unsafe_hash=True)
class Survey:
    """An NPS (0-10) or CSAT (1-5) answer."""

    kind: str  # nps / csat
    score: int
    submitted: date


@dataclass(slots=True, unsafe_hash=True)
class AccountInputs:
    """Everything the health score of one account reads."""

    account: Account
    usage: tuple[WeekUsage, ...] = ()
    first_usage_week: date | None = None
    first_activation: date | None = None
    # Per event: (events in the recent window, events in the baseline window), for the reason.
    event_windows: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    people: tuple[Person, ...] = ()
    product_users: tuple[ProductUser, ...] = ()  # the top users by events in 30 days
    seats_used: int | None = None  # users seen in the last 30 days
    touches: tuple[Touch, ...] = ()
    next_steps: tuple[NextStep, ...] = ()
    tickets: tuple[Ticket, ...] = ()
    surveys: tuple[Survey, ...] = ()
    # ``usage`` as the score of ``recent.day`` reads it: when set for the day scored, the score
    # reads it instead of ``usage`` (which may then hold only what other days need).
    recent: RecentUsage | None = None


@dataclass(slots=True, unsafe_hash=True)
class BookContext:
    """What the score of one account needs from the rest of the book."""

    tier: str = "pooled"
    cadence_days: int = 30
    usage_peers: Sequence[float] = ()  # sorted use per seat of the tier's accounts
    peer_self: float | None = None  # this account's own entry in usage_peers, if it is there
    has_usage: bool = True  # analytics synced for this book
    has_touches: bool = True
    has_tickets: bool = True


@dataclass(slots=True, unsafe_hash=True)
class Component:
    """One component's sub-score (None: no data), its cause in words and a short chip."""

    name: str
    subscore: float | None
    reason: str
    chip: str = ""


@dataclass(slots=True, unsafe_hash=True)
class Driver:
    """A component's points earned out of its share, with the cause in words."""

    component: str
    points: int
    max: int
    reason: str

    def as_dict(self) -> dict[str, object]:
        """The JSON shape stored in scores.drivers."""
        return {
            "component": self.component,
            "points": self.points,
            "max": self.max,
            "reason": self.reason,
        }


@dataclass(slots=True, unsafe_hash=True)
class UsageFacts:
    """Usage measures other rules reuse (stage, tier, opportunity)."""

    per_seat: float = 0.0
    ratio: float | None = None  # recent weekly points / baseline weekly points
    features_used: int = 0
    activated: bool = False
    full_baseline: bool = False  # used the product before the baseline window began
    cause_wanted: bool = False  # the reason would name the event that fell (event_windows)

    @property
    def growth_ratio(self) -> float | None:
        """The trend ratio when it compares against a full baseline (a ramp-up is not growth)."""
        return self.ratio if self.full_baseline else None


@dataclass(slots=True, unsafe_hash=True)
class Health:
    """A health score with its exact value, band, components and drivers."""

    score: int | None
    exact: float | None
    band: str | None
    components: tuple[Component, ...]
    drivers: tuple[Driver, ...]
    shares: Mapping[str, float]  # exact share of 100 per component with data
    usage: UsageFacts = field(default_factory=UsageFacts)

    def earned(self) -> dict[str, float]:
        """Exact points earned per component with data."""
        return {
            c.name: self.shares[c.name] * c.subscore / 100
            for c in self.components
            if c.subscore is not None
        }
