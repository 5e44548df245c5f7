"""The demo portfolio: a deterministic book of accounts with believable stories, in the APIs' shapes.

Every HubSpot record is ``{"id", "properties", "createdAt", "updatedAt", "archived",
"associations"}`` where ``associations`` maps a target type to a list of ids (for example
``{"companies": ["9100000001"], "contacts": ["5200000003"]}``); the fakes turn that into the API's
association shapes. Property values are strings, as HubSpot sends them; a property with no value is
left out of ``properties`` (the fake answers ``null`` when it is requested).

Date encodings (as HubSpot sends them):
- date properties (``contract_start_date``, ``renewal_date``, ``churn_date``): ``YYYY-MM-DD``;
- datetime properties (``createdate``, ``hs_lastmodifieddate``, ``lastmodifieddate``,
  ``closedate``, ``closed_date``, ``hs_timestamp``, ``hs_submission_timestamp``,
  ``hs_meeting_start_time``/``end_time``) and ``createdAt``/``updatedAt``: ISO instants in UTC
  with milliseconds, ``YYYY-MM-DDTHH:MM:SS.mmmZ``;
- ARR history timestamps: the same ISO form; PostHog ``last_seen``: ``YYYY-MM-DDTHH:MM:SS.ffffffZ``;
  weeks: the Monday that starts them, ``YYYY-MM-DD``.
All generated instants fall before midnight UTC starting ``today``; usage covers the 26 complete
weeks before the current one.
"""

from __future__ import annotations

import functools
import gc
import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from csm_tui.fakes.hostile import HOSTILE_STRINGS
from csm_tui.fakes.names import (
    COMPANY_STEMS,
    COMPANY_SUFFIXES,
    COMPANY_TAILS,
    FIRST_NAMES,
    JOB_TITLES,
    LAST_NAMES,
    PHONE_PLANS,
    TLDS,
    US_AREA_CODES,
    VENDOR_DOMAIN,
)

__all__ = [
    "EVENTS",
    "HOSTILE_STRINGS",
    "OBJECT_TYPES",
    "STORIES",
    "Portfolio",
    "UsageRow",
    "UserRow",
    "generate_portfolio",
    "hs_datetime",
]

# Alphabetical: the order the weekly-usage query returns them in (ORDER BY account, week, event).
EVENTS: tuple[str, ...] = (
    "automation_created",
    "dashboard_shared",
    "export_run",
    "integration_connected",
    "login",
    "project_created",
    "report_created",
)
KEY_FEATURES = (
    "report_created",
    "dashboard_shared",
    "export_run",
    "integration_connected",
    "automation_created",
)
ACTIVATION_EVENT = "project_created"
WEEKS = 26  # the weeks each account's story is told in (its usage curve)
# Older weeks of usage, before the story's: a year of past renewals can be scored as the book
# stood three months ahead of each (csm-tui score-check), so the demo pulls them all.
PAST_WEEKS = 52
USAGE_WEEKS = PAST_WEEKS + WEEKS
# Weeks left exactly as the story tells them: today's score reads 12 weeks, and its 4-week trend
# the 12 weeks before the 4th week back (so past outcomes' signals are drawn only before them).
UNTOUCHED_WEEKS = 17
OUTCOME_WINDOW_DAYS = 430  # past renewals whose outcome the demo decides: the last 14 months
# Per story: the chance its last renewal came after months of trouble (usage fading before it).
TROUBLE: dict[str, float] = {
    "healthy": 0.12,
    "expansion_ready": 0.05,
    "slow_decline": 0.55,
    "sudden_drop": 0.3,
    "champion_quiet": 0.35,
    "renewal_at_risk": 0.55,
    "onboarding": 0.0,
    "churned": 0.75,
}
# A renewal that moved the ARR contracted with this chance (troubled, untroubled); else grew.
CONTRACT_IF_TROUBLED, CONTRACT_OTHERWISE = 0.9, 0.22

STORY_SHARES: dict[str, float] = {
    "healthy": 0.45,
    "slow_decline": 0.12,
    "sudden_drop": 0.08,
    "onboarding": 0.08,
    "expansion_ready": 0.10,
    "champion_quiet": 0.07,
    "renewal_at_risk": 0.07,
    "churned": 0.03,
}
STORIES: tuple[str, ...] = tuple(STORY_SHARES)

OBJECT_TYPES: tuple[str, ...] = (
    "companies",
    "contacts",
    "deals",
    "tickets",
    "feedback_submissions",
    "notes",
    "calls",
    "meetings",
    "emails",
    "tasks",
)
ID_BASES: dict[str, int] = {
    "owners": 70_000_000,
    "companies": 9_100_000_000,
    "contacts": 5_200_000_000,
    "deals": 1_300_000_000,
    "tickets": 2_400_000_000,
    "feedback_submissions": 3_500_000_000,
    "notes": 4_600_000_000,
    "calls": 4_700_000_000,
    "meetings": 4_800_000_000,
    "emails": 4_900_000_000,
    "tasks": 6_000_000_000,
    "sequences": 880_000,
    "enrollments": 990_000_000,
}

# Per event: share of the week's active users who do it, and events per such user per week.
EVENT_PROFILE: dict[str, tuple[float, float]] = {
    "automation_created": (0.10, 1.5),
    "dashboard_shared": (0.20, 1.6),
    "export_run": (0.25, 2.0),
    "integration_connected": (0.06, 1.0),
    "login": (1.0, 3.5),
    "project_created": (0.15, 1.4),
    "report_created": (0.35, 2.5),
}

_FIRST_LOWER = [n.lower() for n in FIRST_NAMES]
_LAST_SLUG = [re.sub(r"[^a-z0-9]", "", n.lower()) for n in LAST_NAMES]

UsageRow = tuple[str, str, str, int, int]
"""(group key, week Monday, event, events, distinct users)."""
UserRow = tuple[str, str, str, str, int]
"""(group key, person id, email, last seen ISO instant, events in the last 30 days)."""


@dataclass
class Portfolio:
    """A generated book: HubSpot records, ARR history, sequences, PostHog aggregates, stories."""

    today: date
    now: datetime  # the instant the data was "taken" (midnight UTC starting today)
    seed: int
    demo_owner_email: str
    owners: list[dict[str, Any]] = field(default_factory=list)
    companies: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    deals: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)
    feedback_submissions: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    meetings: list[dict[str, Any]] = field(default_factory=list)
    emails: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    # company id -> [{"value", "timestamp", "sourceType"}], newest first (propertiesWithHistory).
    arr_history: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    sequences: list[dict[str, Any]] = field(default_factory=list)
    enrollments: list[dict[str, Any]] = field(default_factory=list)
    weeks: list[str] = field(default_factory=list)  # Mondays, oldest first
    usage_weekly: list[UsageRow] = field(default_factory=list)  # sorted (account, week, event)
    user_activity: list[UserRow] = field(default_factory=list)  # sorted (account, user)
    stories: dict[str, str] = field(default_factory=dict)  # company id -> story

    def objects(self, obj_type: str) -> list[dict[str, Any]]:
        """The records of one CRM object type (``companies``, ``contacts``, ``notes``...)."""
        if obj_type not in OBJECT_TYPES:
            raise KeyError(obj_type)
        return getattr(self, obj_type)

    def company_by_domain(self) -> dict[str, dict[str, Any]]:
        """Companies keyed by domain (the analytics group key)."""
        return {c["properties"]["domain"]: c for c in self.companies}

    def usage_for(self, domain: str) -> list[UsageRow]:
        """The weekly usage rows of one account (by group key)."""
        return [row for row in self.usage_weekly if row[0] == domain]


def hs_datetime(dt: datetime) -> str:
    """An instant as HubSpot writes it: ``2026-03-01T14:05:09.123Z`` (UTC, milliseconds)."""
    dt = dt.astimezone(UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond // 1000:03d}Z"


_DAYS: dict[int, str] = {}
_EPOCH = date(1970, 1, 1)


def _day_prefix(day: int) -> str:
    text = _DAYS.get(day)
    if text is None:
        text = _DAYS[day] = (_EPOCH + timedelta(days=day)).isoformat()
    return text


_TIMES: list[str] = []


def _time_of_day(secs: int) -> str:
    if not _TIMES:  # built once: 86,400 "HH:MM:SS" strings beat formatting each instant
        _TIMES.extend(
            f"T{h:02d}:{m:02d}:{s:02d}." for h in range(24) for m in range(60) for s in range(60)
        )
    return _TIMES[secs]


def _fast_iso(ts: float) -> str:
    """``hs_datetime`` for epoch seconds, without building a datetime (the generator's hot path)."""
    ms = int(ts * 1000)
    day, rest = divmod(ms, 86_400_000)
    secs, milli = divmod(rest, 1000)
    return f"{_DAYS.get(day) or _day_prefix(day)}{_TIMES[secs] if _TIMES else _time_of_day(secs)}{milli:03d}Z"


def _ph_datetime(ts: float) -> str:
    us = int(ts * 1_000_000)
    day, rest = divmod(us, 86_400_000_000)
    secs, micro = divmod(rest, 1_000_000)
    return f"{_DAYS.get(day) or _day_prefix(day)}{_TIMES[secs] if _TIMES else _time_of_day(secs)}{micro:06d}Z"


@functools.lru_cache(maxsize=4096)
def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _story_list(rng: random.Random, n: int) -> list[str]:
    """Exactly-shared stories (largest remainder), every story present once n allows, shuffled."""
    raw = {s: share * n for s, share in STORY_SHARES.items()}
    counts = {s: int(v) for s, v in raw.items()}
    if n >= len(STORIES):
        for s in STORIES:
            counts[s] = max(counts[s], 1)
    rest = n - sum(counts.values())
    for s in sorted(STORIES, key=lambda s: raw[s] - int(raw[s]), reverse=True):
        if rest <= 0:
            break
        counts[s] += 1
        rest -= 1
    while rest < 0:  # the minimum of one each overshot: take from the biggest
        counts["healthy"] -= 1
        rest += 1
    out = [s for s in STORIES for _ in range(counts[s])]
    rng.shuffle(out)
    return out


class _Ids:
    """Per-type increasing numeric ids (HubSpot ids are numeric strings)."""

    def __init__(self) -> None:
        self._next = dict(ID_BASES)

    def __call__(self, kind: str) -> str:
        self._next[kind] += 1
        return str(self._next[kind])


class _Builder:
    """Generates one portfolio; split in steps so each story's rules read in one place."""

    def __init__(self, accounts: int, seed: int, today: date, hostile: bool) -> None:
        self.rng = random.Random(seed)
        self.n = accounts
        self.seed = seed
        self.today = today
        self.hostile = hostile
        self.now = datetime.combine(today, time(0, 0), UTC)
        self.now_ts = self.now.timestamp()
        this_monday = today - timedelta(days=today.weekday())
        self.week_dates = [this_monday - timedelta(weeks=WEEKS - i) for i in range(WEEKS)]
        self.weeks = [d.isoformat() for d in self.week_dates]
        self.past_dates = [
            this_monday - timedelta(weeks=USAGE_WEEKS - i) for i in range(PAST_WEEKS)
        ]
        self.past_weeks = [d.isoformat() for d in self.past_dates]
        # Past outcomes draw from a stream of their own: the stories' draws stay as they were.
        self.orng = random.Random(seed * 1_000_003 + 17)
        self.ids = _Ids()
        self.noise = [self.rng.uniform(0.8, 1.2) for _ in range(1009)]
        # PostHog person ids are UUIDs; a seed-derived prefix and a counter keep them unique,
        # deterministic and already in (account, user) order within each account.
        tag = f"{self.rng.getrandbits(80):020x}"
        self.person_tag = f"{tag[:8]}-{tag[8:12]}-7{tag[13:16]}-8{tag[17:20]}"
        self.person_seq = 0
        self.used_names: set[str] = set()
        self.used_domains: set[str] = set()
        self.usage: dict[str, list[UsageRow]] = {}
        self.users: dict[str, list[UserRow]] = {}
        self.p = Portfolio(today=today, now=self.now, seed=seed, demo_owner_email="")

    # -- small helpers ---------------------------------------------------------------------

    def ts(self, days_ago: float) -> float:
        """Epoch seconds ``days_ago`` days before the data instant."""
        return self.now_ts - days_ago * 86400.0

    def iso(self, ts: float) -> str:
        return _fast_iso(ts)

    def day_ts(self, d: date, hour: float) -> float:
        return datetime.combine(d, time(0, 0), UTC).timestamp() + hour * 3600.0

    def record(
        self,
        kind: str,
        props: dict[str, str],
        created: float,
        modified: float,
        assoc: dict[str, list[str]] | None = None,
        mod_prop: str = "hs_lastmodifieddate",
    ) -> dict[str, Any]:
        rid = self.ids(kind)
        modified = max(modified, created)
        created_iso, modified_iso = self.iso(created), self.iso(modified)
        props["createdate"] = created_iso
        props[mod_prop] = modified_iso
        props["hs_object_id"] = rid
        rec = {
            "id": rid,
            "properties": props,
            "createdAt": created_iso,
            "updatedAt": modified_iso,
            "archived": False,
            "associations": assoc or {},
        }
        getattr(self.p, kind).append(rec)
        return rec

    def person(self) -> tuple[str, str]:
        r = self.rng.random
        return FIRST_NAMES[int(r() * len(FIRST_NAMES))], LAST_NAMES[int(r() * len(LAST_NAMES))]

    def email_local(self) -> str:
        """``first.last`` for someone who is not in the CRM (the per-user rows' hot path)."""
        r = self.rng.random
        return (
            f"{_FIRST_LOWER[int(r() * len(_FIRST_LOWER))]}.{_LAST_SLUG[int(r() * len(_LAST_SLUG))]}"
        )

    # -- owners and sequences --------------------------------------------------------------

    def owners(self) -> None:
        rng = self.rng
        seen: set[str] = set()
        for i in range(rng.randint(4, 6)):
            while True:
                first, last = self.person()
                email = f"{first.lower()}.{_slug(last)}@{VENDOR_DOMAIN}"
                if email not in seen:
                    seen.add(email)
                    break
            created = self.ts(rng.uniform(400, 1500))
            self.p.owners.append(
                {
                    "id": self.ids("owners"),
                    "email": email,
                    "type": "PERSON",
                    "firstName": first,
                    "lastName": last,
                    "userId": 4_100_000 + i * 7919 + rng.randint(1, 999),
                    "userIdIncludingInactive": 0,
                    "createdAt": self.iso(created),
                    "updatedAt": self.iso(created + 86400 * rng.uniform(1, 300)),
                    "archived": False,
                    "teams": [{"id": "31337", "name": "Customer Success", "primary": True}],
                }
            )
        for o in self.p.owners:
            o["userIdIncludingInactive"] = o["userId"]
        self.p.demo_owner_email = self.p.owners[0]["email"]

    def sequences(self) -> None:
        names = [
            "Q4 webinar invite",
            "Feature adoption: dashboards",
            "Renewal prep",
            "Onboarding week 1",
            "Re-engage quiet admins",
        ]
        for i, owner in enumerate(self.p.owners):
            for name in names if i == 0 else names[:3]:
                created = self.ts(self.rng.uniform(30, 400))
                self.p.sequences.append(
                    {
                        "id": self.ids("sequences"),
                        "name": name,
                        "userId": str(owner["userId"]),
                        "createdAt": self.iso(created),
                        "updatedAt": self.iso(created + 86400 * self.rng.uniform(0, 25)),
                        "steps": 3 + len(name) % 4,
                    }
                )

    # -- companies -------------------------------------------------------------------------

    def company_name(self) -> tuple[str, str, str]:
        rng = self.rng
        for attempt in range(200):
            stem = rng.choice(COMPANY_STEMS)
            suffix, industry = rng.choice(COMPANY_SUFFIXES)
            tail = "" if attempt < 20 and rng.random() < 0.7 else rng.choice(COMPANY_TAILS)
            name = f"{stem} {suffix}" + (f" {tail}" if tail else "")
            if attempt >= 150:
                name = f"{name} {attempt}"  # only for books far beyond the word lists
            if name in self.used_names:
                continue
            base = _slug(f"{stem}{suffix}") + ("" if not tail or attempt < 150 else str(attempt))
            for tld in TLDS:
                domain = f"{base}.{tld}"
                if domain not in self.used_domains:
                    break
            else:
                domain = f"{base}{_slug(tail) or len(self.used_domains)}.com"
                if domain in self.used_domains:
                    continue
            self.used_names.add(name)
            self.used_domains.add(domain)
            return name, domain, industry
        raise RuntimeError("could not find a unique company name")

    def dates_for(self, story: str) -> tuple[date, date, date | None]:
        """(contract start, renewal date, churn date) for a story."""
        rng, today = self.rng, self.today
        churn: date | None = None
        if story == "onboarding":
            start = today - timedelta(days=rng.randint(12, 80))
            return start, _add_years(start, 1), None
        if story == "renewal_at_risk":
            renewal = today + timedelta(days=rng.randint(12, 58))
            return _add_years(renewal, -rng.randint(1, 3)), renewal, None
        if story == "churned":
            churn = today - timedelta(days=rng.randint(25, 150))
            return _add_years(churn, -rng.randint(1, 3)), churn, churn
        start = today - timedelta(days=rng.randint(100, 1095))
        renewal = _add_years(start, 1)
        while renewal <= today:
            renewal = _add_years(renewal, 1)
        if story == "expansion_ready" and (renewal - today).days < 60:
            start = start - timedelta(days=90)  # expansion talk, not renewal firefighting
            renewal = _add_years(start, 1)
            while renewal <= today:
                renewal = _add_years(renewal, 1)
        return start, renewal, churn

    def arr_walk(
        self, story: str, start: date, end: date
    ) -> tuple[list[tuple[float, float, str]], float]:
        """ARR changes [(epoch, value, why)] from contract start to ``end``; and the initial ARR."""
        rng = self.rng
        initial = math.exp(rng.gauss(math.log(28_000), 0.95))
        initial = min(max(initial, 5_000), 380_000)
        value = round(initial, -2)
        steps = [(self.day_ts(start, rng.uniform(9, 17)), value, "newbusiness")]
        up, down = {
            "healthy": (0.30, 0.06),
            "expansion_ready": (0.55, 0.0),
            "slow_decline": (0.08, 0.35),
            "renewal_at_risk": (0.05, 0.35),
            "sudden_drop": (0.25, 0.08),
            "champion_quiet": (0.2, 0.1),
            "churned": (0.1, 0.3),
            "onboarding": (0.0, 0.0),
        }[story]
        anniversary = _add_years(start, 1)
        horizon = self.today - timedelta(days=548)  # mid-term moves only in the last 18 months
        while anniversary < end:
            roll = rng.random()
            factor = 1.0
            if roll < up:
                factor = rng.uniform(1.08, 1.45)
            elif roll < up + down:
                factor = rng.uniform(0.65, 0.92)
            if factor != 1.0:
                value = min(max(round(value * factor, -2), 5_000), 400_000)
                kind = "renewal_up" if factor > 1 else "renewal_down"
                steps.append((self.day_ts(anniversary, rng.uniform(9, 17)), value, kind))
            anniversary = _add_years(anniversary, 1)
        mid_p = {"expansion_ready": 0.5, "healthy": 0.15, "champion_quiet": 0.1}.get(story, 0.0)
        first_mid = max(start + timedelta(days=60), horizon)
        if rng.random() < mid_p and first_mid < end - timedelta(days=20):
            when = first_mid + timedelta(days=rng.randint(0, (end - first_mid).days - 20))
            if when.isoformat() not in {
                datetime.fromtimestamp(t, UTC).date().isoformat() for t, _, _ in steps
            }:
                value = min(round(value * rng.uniform(1.1, 1.4), -2), 400_000)
                steps.append((self.day_ts(when, rng.uniform(9, 17)), value, "expansion"))
                steps.sort()
        return steps, initial

    def past_outcome(
        self, story: str, start: date, churn: date | None, steps: list[tuple[float, float, str]]
    ) -> date | None:
        """Decide how the account's last renewal went, and whether months of trouble led to it.

        Returns the day the trouble led up to (the renewal, or the churn), or None. A renewal
        the ARR walk moved becomes a contraction (more likely after trouble) or a rise: the ARR
        before it is rescaled, so today's ARR (and all that follows from it) stays as it was. A
        renewal the walk left flat stays flat. So the usage signal is honest but imperfect:
        some troubled accounts renew flat, some untroubled ones contract.
        """
        orng = self.orng
        troubled = orng.random() < TROUBLE[story]
        if churn is not None:
            return churn if troubled else None
        last: date | None = None
        k = 1
        while (anniversary := _add_years(start, k)) < self.today:
            last, k = anniversary, k + 1
        if last is None or (self.today - last).days > OUTCOME_WINDOW_DAYS:
            return None
        at = next(
            (
                i
                for i, (t, _, _) in enumerate(steps)
                if i and datetime.fromtimestamp(t, UTC).date() == last
            ),
            None,
        )
        if at is not None:
            contract = orng.random() < (CONTRACT_IF_TROUBLED if troubled else CONTRACT_OTHERWISE)
            factor = orng.uniform(0.65, 0.9) if contract else orng.uniform(1.08, 1.4)
            after = steps[at][1]
            before = min(max(round(after / factor, -2), 5_000), 400_000)
            ratio = before / steps[at - 1][1]
            for i in range(at):
                t, value, why = steps[i]
                steps[i] = (t, min(max(round(value * ratio, -2), 5_000), 400_000), why)
            steps[at] = (steps[at][0], after, "renewal_down" if contract else "renewal_up")
        return last if troubled else None

    def company(self, story: str) -> None:
        rng = self.rng
        owners = self.p.owners
        owner = owners[0] if rng.random() < 0.8 else rng.choice(owners[1:])
        name, domain, industry = self.company_name()
        start, renewal, churn = self.dates_for(story)
        end = min(self.today, churn) if churn else self.today
        steps, _ = self.arr_walk(story, start, end)
        trouble = self.past_outcome(story, start, churn, steps)
        arr = steps[-1][1]
        seats = int(min(max(round(arr / rng.uniform(650, 1100)), 5), 500))
        created = self.day_ts(start - timedelta(days=rng.randint(14, 120)), rng.uniform(8, 18))
        modified = max(self.ts(rng.uniform(0.2, 45)), steps[-1][0])
        props: dict[str, str] = {
            "name": name,
            "domain": domain,
            "hubspot_owner_id": owner["id"],
            "arr": str(int(arr)),
            "seats": str(seats),
            "contract_start_date": start.isoformat(),
            "renewal_date": renewal.isoformat(),
            "industry": industry,
            "lifecyclestage": "customer",
        }
        if churn:
            props["churn_date"] = churn.isoformat()
        if story == "healthy" and rng.random() < 0.03:
            props["cs_stage"] = rng.choice(["Adoption", "Retention"])
        rec = self.record("companies", props, created, modified)
        cid = rec["id"]
        self.p.stories[cid] = story
        self.p.arr_history[cid] = [
            {"value": str(int(v)), "timestamp": self.iso(t), "sourceType": "CRM_UI"}
            for t, v, _ in reversed(steps)
        ]
        acct = _Account(cid, story, domain, name, owner, seats, start, renewal, churn, steps)
        acct.trouble = trouble
        acct.depth = self.orng.uniform(0.55, 0.85)
        self.contacts(acct)
        self.usage_for(acct)
        self.user_rows(acct)
        self.deals(acct)
        self.tickets(acct)
        self.feedback(acct)
        self.touches(acct)
        self.next_steps(acct)

    # -- contacts --------------------------------------------------------------------------

    def contacts(self, a: _Account) -> None:
        rng = self.rng
        n = rng.choices((2, 3, 4, 5, 6, 7, 8), (8, 12, 18, 22, 18, 12, 10))[0]
        n = min(n, max(2, a.seats))
        roles = ["admin", "champion"] + [
            "admin" if rng.random() < 0.08 else "user" for _ in range(n - 2)
        ]
        emails: set[str] = set()
        for role in roles:
            first, last = self.person()
            email = f"{first.lower()}.{_slug(last)}@{a.domain}"
            k = 2
            while email in emails:
                email = f"{first.lower()}.{_slug(last)}{k}@{a.domain}"
                k += 1
            emails.add(email)
            props = {
                "firstname": first,
                "lastname": last,
                "email": email,
                "jobtitle": rng.choice(JOB_TITLES[role]),
                "cs_role": role,
                "hs_email_optout": "false",
                "lifecyclestage": "customer",
            }
            self.contact_details(props, email)
            roll = rng.random()
            if roll < 0.03:
                props["hs_email_optout"] = "true"
            elif roll < 0.05:
                props["hs_email_hard_bounce_reason"] = (
                    "550 5.1.1 The email account that you tried to reach does not exist"
                )
            created = max(
                self.day_ts(a.start, rng.uniform(8, 18)) + 86400 * rng.uniform(-30, 200),
                self.ts(1200),
            )
            created = min(created, self.ts(1))
            modified = self.ts(rng.uniform(0.1, 90))
            rec = self.record(
                "contacts",
                props,
                created,
                modified,
                {"companies": [a.id]},
                mod_prop="lastmodifieddate",
            )
            is_user = role != "user" or rng.random() < 0.8
            a.contacts.append((rec["id"], role, email, first, is_user, props))

    def contact_details(self, props: dict[str, str], email: str) -> None:
        """Phones for some contacts, and no job title for a few, as a real CRM has them.

        Drawn from a generator of their own (seeded by the contact), so the rest of the book
        is the same with or without them.
        """
        rng = random.Random(f"{self.seed}:{email}")
        if rng.random() < 0.15:
            del props["jobtitle"]
        code, local = PHONE_PLANS[0 if rng.random() < 0.7 else 1]

        def number() -> str:
            area = rng.choice(US_AREA_CODES)
            return f"{code} " + local.format(
                area=area, n=rng.randrange(100 if code == "+1" else 1000)
            )

        if rng.random() < 0.6:
            props["phone"] = number()
        if rng.random() < 0.25:
            props["mobilephone"] = number()

    # -- product usage ---------------------------------------------------------------------

    def curve(self, a: _Account) -> tuple[list[float], float, float]:
        """(activity multiplier per week, active share of seats at 1.0, users exponent)."""
        rng, story, w = self.rng, a.story, WEEKS
        util = rng.uniform(0.5, 0.8)
        exp = 0.6
        if story == "healthy":
            g = rng.uniform(-0.05, 0.15)
            c = [1.0 + g * i / (w - 1) for i in range(w)]
        elif story == "slow_decline":
            end = rng.uniform(0.35, 0.55)
            c = [1.0 - (1.0 - end) * i / (w - 1) for i in range(w)]
        elif story == "sudden_drop":
            k, f = rng.randint(3, 4), rng.uniform(0.2, 0.35)
            c = [1.0 if i < w - k else f for i in range(w)]
            exp = 0.9
        elif story == "onboarding":
            first = next(
                (i for i, d in enumerate(self.week_dates) if d >= a.start - timedelta(days=6)), w
            )
            c = [
                0.0 if i < first else 0.25 + 0.5 * (i - first) / max(1, w - 1 - first)
                for i in range(w)
            ]
            util = rng.uniform(0.5, 0.7)
        elif story == "expansion_ready":
            top = rng.uniform(1.15, 1.25)
            c = [0.72 + 0.003 * i if i < w - 6 else (0.9 if i < w - 4 else top) for i in range(w)]
            util = rng.uniform(0.82, 0.86)
            exp = 1.0
        elif story == "champion_quiet":
            c = [1.0 - 0.15 * i / (w - 1) for i in range(w)]
        elif story == "renewal_at_risk":
            c = [0.7 - 0.35 * i / (w - 1) for i in range(w)]
            util = rng.uniform(0.3, 0.5)
        else:  # churned: usage fades, then stops at the churn date
            assert a.churn is not None
            c = [
                0.0 if d > a.churn else 1.0 - 0.4 * i / (w - 1)
                for i, d in enumerate(self.week_dates)
            ]
        return c, util, exp

    def usage_for(self, a: _Account) -> None:
        rng = self.rng
        curve, util, exp = self.curve(a)
        a.curve = curve
        story = a.story
        if story == "onboarding":
            features = rng.sample(KEY_FEATURES, rng.randint(0, 2))
        elif story == "expansion_ready":
            features = list(KEY_FEATURES)
        elif story in ("slow_decline", "renewal_at_risk", "churned"):
            features = rng.sample(KEY_FEATURES, rng.randint(1, 3))
        else:
            features = rng.sample(KEY_FEATURES, rng.choices((2, 3, 4, 5), (1, 2, 4, 3))[0])
        activation_from = 0
        if story == "onboarding":
            # Half have not reached activation yet; the rest reached it in the last two weeks.
            activation_from = WEEKS if rng.random() < 0.5 else WEEKS - rng.randint(1, 2)
        events = sorted(["login", ACTIVATION_EVENT, *features])
        # (event, events per active user, users share, noise offset, first week it happens)
        profiles = [
            (
                e,
                EVENT_PROFILE[e][0] * EVENT_PROFILE[e][1],
                EVENT_PROFILE[e][0],
                EVENTS.index(e),
                activation_from if e == ACTIVATION_EVENT else 0,
            )
            for e in events
        ]
        off = rng.randrange(1009)
        noise = self.noise
        seats_cap = a.seats * 1.05
        cap_int = int(seats_cap)
        base_users = a.seats * util
        domain = a.domain
        rows: list[UsageRow] = []
        append = rows.append
        login_users: list[int] = []
        last4 = 0
        recent_from = WEEKS - 4
        # The older weeks first (at the story's oldest level, none before the contract), then
        # the story's; trouble before a past outcome fades the use of the weeks before it.
        before_start = a.start - timedelta(days=6)
        oldest = curve[0] if a.story != "onboarding" else 0.0
        past = [0.0 if d < before_start else oldest for d in self.past_dates]
        fade = self.fade(a)
        for wi, week in enumerate(self.past_weeks + self.weeks, start=-PAST_WEEKS):
            c = curve[wi] if wi >= 0 else past[wi + PAST_WEEKS]
            if c <= 0:
                if wi >= 0:
                    login_users.append(0)
                continue
            plain_lu = base_users * c**exp
            if plain_lu > seats_cap:
                plain_lu = seats_cap
            faded = fade[wi + PAST_WEEKS]
            if faded < 1.0:
                c *= faded
            lu = base_users * c**exp
            if lu > seats_cap:
                lu = seats_cap
            lu_c = base_users * c  # events follow the curve; distinct users follow it softer
            lu_int = 0
            base = off + wi * 7
            for ev, per_user, share, ei, first_week in profiles:
                if first_week and wi < first_week:
                    continue
                nz = noise[(base + ei) % 1009]
                n_events = int(lu_c * per_user * nz + 0.5)
                if n_events <= 0:
                    continue
                users = int(lu * share * (0.9 + 0.1 * nz) + 0.5)
                if users > n_events:
                    users = n_events
                if users > cap_int:
                    users = cap_int
                if users < 1:
                    users = 1
                if ev == "login":
                    # Who the story sees as active (the per-user rows) ignores the fading.
                    lu_int = users if faded >= 1.0 else _login_users(plain_lu, share, nz, cap_int)
                if wi >= recent_from:
                    last4 += n_events
                append((domain, week, ev, n_events, users))
            if wi >= 0:
                login_users.append(lu_int)
        a.login_users = login_users
        a.events_last4 = last4
        self.usage[domain] = rows

    def fade(self, a: _Account) -> list[float]:
        """Per usage week (oldest first): the share of its use left by trouble before a past
        outcome: fading over the 30 weeks before it to ``1 - depth`` at 10 weeks before, back
        within 6 weeks after. Weeks of today's score and trend are never faded."""
        weeks = self.past_dates + self.week_dates
        if a.trouble is None:
            return [1.0] * len(weeks)
        last_faded = len(weeks) - UNTOUCHED_WEEKS
        out = []
        for i, d in enumerate(weeks):
            before = (a.trouble - d).days / 7  # weeks before the outcome (negative: after)
            if i >= last_faded or before > 30 or before < -6:
                out.append(1.0)
            elif before >= 10:
                out.append(1.0 - a.depth * (30 - before) / 20)
            elif before >= 0:
                out.append(1.0 - a.depth)
            else:
                out.append(1.0 - a.depth * (1 + before / 6))
        return out

    def user_rows(self, a: _Account) -> None:
        rng, story = self.rng, a.story
        rand = rng.random
        lu = a.login_users
        active_7 = lu[-1]
        active_30 = max(lu[-4:])
        ever = max(lu)
        product_contacts = [c for c in a.contacts if c[4]]
        leaders = [c for c in product_contacts if c[1] in ("admin", "champion")]
        others = [c for c in product_contacts if c[1] not in ("admin", "champion")]
        rng.shuffle(others)
        n_rows = max(ever + max(1, ever // 8), len(product_contacts))
        people: list[tuple[str, str]] = [(c[2], c[1]) for c in leaders + others]
        taken = {c[2] for c in a.contacts}
        domain = a.domain
        at_domain = "@" + domain
        while len(people) < n_rows:
            local = self.email_local()
            email = local + at_domain
            if email in taken:
                email = f"{local}{len(people)}{at_domain}"
            taken.add(email)
            people.append((email, "user"))
        quiet_leaders = story in ("champion_quiet", "renewal_at_risk")
        if quiet_leaders:
            # The leaders go to the back of the line: everybody else is seen more recently.
            people = people[len(leaders) :] + people[: len(leaders)]
        weights = [rng.paretovariate(1.4) for _ in people]
        per_weight = a.events_last4 * 30 / 28 / (sum(weights) or 1.0)
        now, day = self.now_ts, 86400.0
        start_ts = self.day_ts(a.start, 9)
        churn_ts = self.day_ts(a.churn, 0) if a.churn else 0.0
        recent = now - 30 * day
        tag = self.person_tag
        rows: list[UserRow] = []
        for i, (email, role) in enumerate(people):
            if churn_ts:
                seen = churn_ts - day * 60 * rand()
            elif quiet_leaders and role != "user":
                seen = now - day * (20 + 25 * rand())
            elif i < active_7:
                seen = now - day * (0.05 + 6.45 * rand())
            elif i < active_30:
                seen = now - day * (7 + 22 * rand())
            else:
                seen = now - day * (31 + 169 * rand())
            if story == "onboarding":
                seen = min(max(seen, start_ts + day * 3 * rand()), now - 0.05 * day)
            e30 = 0
            if seen >= recent:
                e30 = max(1, round(per_weight * weights[i]))
            self.person_seq += 1
            person = f"{tag}-{self.person_seq:012x}"
            rows.append((domain, person, email, _ph_datetime(seen), e30))
        self.users[domain] = rows

    # -- CRM history -----------------------------------------------------------------------

    def contact_for(self, a: _Account, prefer: str | None = None) -> str:
        pool = [c for c in a.contacts if prefer is None or c[1] == prefer] or a.contacts
        return self.rng.choice(pool)[0]

    def deals(self, a: _Account) -> None:
        rng = self.rng
        prev = None
        for t, value, why in a.steps:
            kind = "newbusiness" if why == "newbusiness" else "existingbusiness"
            if why.startswith("renewal"):
                kind = "renewal"
            amount = value if prev is None or kind == "renewal" else value - prev
            d = datetime.fromtimestamp(t, UTC)
            label = {"newbusiness": "New business", "renewal": "Renewal"}.get(kind, "Expansion")
            self.record(
                "deals",
                {
                    "dealname": f"{a.name} - {label} {d.year}",
                    "dealstage": "closedwon",
                    "pipeline": "default",
                    "amount": str(int(amount)),
                    "closedate": self.iso(t),
                    "dealtype": kind,
                    "hubspot_owner_id": a.owner["id"],
                },
                t - 86400 * rng.uniform(20, 60),
                t + 86400 * rng.uniform(0, 2),
                {"companies": [a.id]},
            )
            prev = value
        # Flat renewals also leave a won renewal deal, one per passed anniversary.
        anniversary = _add_years(a.start, 1)
        step_days = {datetime.fromtimestamp(t, UTC).date() for t, _, _ in a.steps}
        value_at = a.steps[0][1]
        while anniversary < min(self.today, a.churn or self.today):
            for t, v, _ in a.steps:
                if datetime.fromtimestamp(t, UTC).date() <= anniversary:
                    value_at = v
            if anniversary not in step_days:
                t = self.day_ts(anniversary, 12)
                self.record(
                    "deals",
                    {
                        "dealname": f"{a.name} - Renewal {anniversary.year}",
                        "dealstage": "closedwon",
                        "pipeline": "default",
                        "amount": str(int(value_at)),
                        "closedate": self.iso(t),
                        "dealtype": "renewal",
                        "hubspot_owner_id": a.owner["id"],
                    },
                    t - 86400 * 40,
                    t + 3600,
                    {"companies": [a.id]},
                )
            anniversary = _add_years(anniversary, 1)
        current = a.steps[-1][1]
        if a.churn is not None:
            t = self.day_ts(a.churn, 15)
            self.record(
                "deals",
                {
                    "dealname": f"{a.name} - Renewal {a.churn.year}",
                    "dealstage": "closedlost",
                    "pipeline": "default",
                    "amount": str(int(current)),
                    "closedate": self.iso(t),
                    "dealtype": "renewal",
                    "closed_lost_reason": rng.choice(
                        ["Budget cuts", "Moved to a competitor", "Low adoption", "Acquired"]
                    ),
                    "hubspot_owner_id": a.owner["id"],
                },
                t - 86400 * 60,
                t + 3600,
                {"companies": [a.id]},
            )
        elif (a.renewal - self.today).days <= 120:
            t = self.day_ts(a.renewal, 12)
            stage = "contractsent" if a.story == "healthy" else "qualifiedtobuy"
            self.record(
                "deals",
                {
                    "dealname": f"{a.name} - Renewal {a.renewal.year}",
                    "dealstage": stage,
                    "pipeline": "default",
                    "amount": str(int(current)),
                    "closedate": self.iso(t),
                    "dealtype": "renewal",
                    "hubspot_owner_id": a.owner["id"],
                },
                self.ts(rng.uniform(5, 40)),
                self.ts(rng.uniform(0.5, 5)),
                {"companies": [a.id]},
            )

    def tickets(self, a: _Account) -> None:
        rng, story = self.rng, a.story
        lifetime = max(30, (self.today - a.start).days)
        closed = rng.randint(0, 2) + a.seats // 150
        low_csat = story in ("renewal_at_risk", "churned", "sudden_drop")
        for _ in range(closed):
            opened = self.ts(rng.uniform(6, min(365, lifetime)))
            closed_at = opened + 86400 * rng.uniform(0.2, 5)
            props = {
                "subject": rng.choice(TICKET_SUBJECTS),
                "content": rng.choice(TICKET_BODIES),
                "hs_pipeline": "0",
                "hs_pipeline_stage": "4",
                "hs_ticket_priority": rng.choices(("LOW", "MEDIUM", "HIGH"), (4, 4, 2))[0],
                "closed_date": self.iso(closed_at),
                "escalated": "false",
            }
            if rng.random() < 0.55:
                score = (
                    rng.choice((1, 2, 3))
                    if low_csat
                    else rng.choices((2, 3, 4, 5), (1, 2, 4, 6))[0]
                )
                props["csat_score"] = str(score)
                if rng.random() < 0.6:
                    self.survey(a, "CSAT", score, closed_at + 3600 * rng.uniform(1, 30))
            self.record(
                "tickets",
                props,
                opened,
                closed_at + 60,
                {"companies": [a.id], "contacts": [self.contact_for(a)]},
            )
        open_ticket: tuple[str, bool] | None = None
        if story == "renewal_at_risk":
            open_ticket = (rng.choice(("URGENT", "HIGH")), True)
        elif story == "sudden_drop" and rng.random() < 0.4:
            open_ticket = ("HIGH", rng.random() < 0.5)
        elif story != "churned" and rng.random() < 0.12:
            open_ticket = (rng.choice(("LOW", "MEDIUM")), False)
        if open_ticket:
            priority, escalated = open_ticket
            days = rng.uniform(4, 20) if escalated else rng.uniform(0.2, 9)
            opened = self.ts(days)
            self.record(
                "tickets",
                {
                    "subject": rng.choice(ESCALATION_SUBJECTS if escalated else TICKET_SUBJECTS),
                    "content": rng.choice(TICKET_BODIES),
                    "hs_pipeline": "0",
                    "hs_pipeline_stage": rng.choice(("1", "2", "3")),
                    "hs_ticket_priority": priority,
                    "escalated": "true" if escalated else "false",
                },
                opened,
                opened + 86400 * rng.uniform(0, days),
                {"companies": [a.id], "contacts": [self.contact_for(a)]},
            )

    def survey(self, a: _Account, kind: str, score: int, at: float) -> None:
        if kind == "NPS":
            comment = self.rng.choice(
                NPS_PROMOTER if score >= 9 else NPS_PASSIVE if score >= 7 else NPS_DETRACTOR
            )
        else:
            comment = self.rng.choice(CSAT_GOOD if score >= 4 else CSAT_BAD)
        self.record(
            "feedback_submissions",
            {
                "hs_survey_type": kind,
                "hs_survey_name": "Quarterly NPS" if kind == "NPS" else "Support CSAT",
                "hs_response_value": str(score),
                "hs_submission_timestamp": self.iso(at),
                "hs_content": comment,
            },
            at,
            at + 1,
            {"companies": [a.id], "contacts": [self.contact_for(a)]},
        )

    def feedback(self, a: _Account) -> None:
        rng, story = self.rng, a.story
        latest: tuple[int, int, int] | None  # (low, high) score and max age in days
        latest = {
            "expansion_ready": (9, 10, 80),
            "renewal_at_risk": (0, 5, 100),
            "churned": (0, 6, 0),
            "slow_decline": (5, 8, 150),
            "sudden_drop": (6, 9, 150),
            "champion_quiet": (7, 9, 150),
            "onboarding": None,
        }.get(story, (7, 10, 170))
        if latest is None or (
            story in ("healthy", "sudden_drop", "slow_decline") and rng.random() < 0.3
        ):
            return
        low, high, age = latest
        if story == "churned":
            at = self.day_ts(a.churn or self.today, 0) - 86400 * rng.uniform(10, 90)
        else:
            at = self.ts(rng.uniform(3, age))
        if story == "healthy":
            score = rng.choices((5, 7, 8, 9, 10), (1, 2, 3, 4, 4))[0]
        else:
            score = rng.randint(low, high)
        self.survey(a, "NPS", score, at)
        if rng.random() < 0.5:
            older = at - 86400 * rng.uniform(90, 200)
            if older > self.day_ts(a.start, 0):
                self.survey(a, "NPS", min(10, max(0, score + rng.randint(-1, 2))), older)

    def touches(self, a: _Account) -> None:
        rng, story = self.rng, a.story
        low, high = {
            "healthy": (2, 25),
            "expansion_ready": (3, 18),
            "slow_decline": (25, 75),
            "sudden_drop": (10, 40),
            "onboarding": (1, 10),
            "champion_quiet": (30, 80),
            "renewal_at_risk": (40, 120),
            "churned": (60, 200),
        }[story]
        age = rng.uniform(low, high)
        n = rng.randint(1, 6)
        for _ in range(n):
            at = self.ts(age) - rng.uniform(0, 8) * 3600
            if story == "onboarding" and at < self.day_ts(a.start, 9):
                break
            self.touch(
                a, rng.choices(("notes", "calls", "meetings", "emails"), (3, 3, 2, 3))[0], at
            )
            age += rng.uniform(12, 60)

    def touch(self, a: _Account, kind: str, at: float) -> None:
        rng = self.rng
        contact = self.contact_for(a, "champion" if rng.random() < 0.5 else None)
        stamp = self.iso(at)
        owner = a.owner["id"]
        if kind == "notes":
            props = {"hs_note_body": rng.choice(NOTE_BODIES)}
        elif kind == "calls":
            props = {
                "hs_call_title": rng.choice(CALL_TITLES),
                "hs_call_body": rng.choice(NOTE_BODIES),
                "hs_call_direction": "OUTBOUND",
                "hs_call_status": "COMPLETED",
                "hs_call_duration": str(rng.randint(5, 45) * 60_000),
            }
        elif kind == "meetings":
            title = rng.choice(MEETING_TITLES)
            props = {
                "hs_meeting_title": title,
                "hs_meeting_body": rng.choice(NOTE_BODIES),
                "hs_meeting_start_time": stamp,
                "hs_meeting_end_time": self.iso(at + 1800 * rng.randint(1, 3)),
                "hs_meeting_outcome": "COMPLETED",
            }
        else:
            props = {
                "hs_email_subject": rng.choice(EMAIL_SUBJECTS),
                "hs_email_text": rng.choice(NOTE_BODIES),
                "hs_email_direction": "EMAIL",
                "hs_email_status": "SENT",
            }
        props["hs_timestamp"] = stamp
        props["hubspot_owner_id"] = owner
        self.record(kind, props, at + 60, at + 120, {"companies": [a.id], "contacts": [contact]})

    def next_steps(self, a: _Account) -> None:
        rng = self.rng
        if a.story == "churned":
            return
        if rng.random() < 0.35:
            overdue = rng.random() < 0.28
            due = self.ts(rng.uniform(1, 12)) if overdue else self.ts(-rng.uniform(1, 21))
            created = min(due, self.now_ts) - 86400 * rng.uniform(3, 20)
            self.task(a, rng.choice(TASK_SUBJECTS), due, "NOT_STARTED", created)
        if rng.random() < 0.2:
            due = self.ts(rng.uniform(15, 90))
            self.task(a, rng.choice(TASK_SUBJECTS), due, "COMPLETED", due - 86400 * 7)

    def task(self, a: _Account, subject: str, due: float, status: str, created: float) -> None:
        rng = self.rng
        self.record(
            "tasks",
            {
                "hs_task_subject": subject,
                "hs_task_status": status,
                "hs_task_priority": rng.choice(("LOW", "MEDIUM", "HIGH")),
                "hs_task_type": rng.choice(("TODO", "CALL", "EMAIL")),
                "hs_timestamp": self.iso(due),
                "hubspot_owner_id": a.owner["id"],
            },
            created,
            created + 60 if status != "COMPLETED" else due,
            {"companies": [a.id], "contacts": [self.contact_for(a)]},
        )

    # -- enrollments, hostile text, assembly -------------------------------------------------

    def enrollments(self) -> None:
        rng = self.rng
        by_user: dict[str, list[dict[str, Any]]] = {}
        for s in self.p.sequences:
            by_user.setdefault(s["userId"], []).append(s)
        owners = {o["id"]: o for o in self.p.owners}
        company_owner = {c["id"]: c["properties"]["hubspot_owner_id"] for c in self.p.companies}
        for c in self.p.contacts:
            props = c["properties"]
            if rng.random() >= 0.04 or props.get("hs_email_optout") == "true":
                continue
            if props.get("hs_email_hard_bounce_reason"):
                continue
            company = c["associations"]["companies"][0]
            if self.p.stories[company] == "churned":
                continue
            owner = owners[company_owner[company]]
            seq = rng.choice(by_user[str(owner["userId"])])
            at = self.ts(rng.uniform(0.5, 20))
            self.p.enrollments.append(
                {
                    "id": self.ids("enrollments"),
                    "contactId": c["id"],
                    "toEmail": props["email"],
                    "sequenceId": seq["id"],
                    "sequenceName": seq["name"],
                    "enrolledAt": self.iso(at),
                    "updatedAt": self.iso(at),
                    "enrolledBy": str(owner["userId"]),
                    "enrolledByEmail": owner["email"],
                }
            )

    def inject_hostile(self) -> None:
        """Put every hostile string somewhere a UI will show it (names, contacts, tickets, notes)."""
        rng = self.rng
        companies = rng.sample(self.p.companies, min(len(HOSTILE_STRINGS), len(self.p.companies)))
        by_company: dict[str, list[dict[str, Any]]] = {}
        for kind in ("contacts", "tickets", "notes"):
            for rec in getattr(self.p, kind):
                for cid in rec["associations"].get("companies", ()):
                    by_company.setdefault(cid, []).append(rec)
        for text, company in zip(HOSTILE_STRINGS, companies, strict=False):
            company["properties"]["name"] = text
            for rec in by_company.get(company["id"], ()):
                props = rec["properties"]
                if "firstname" in props:
                    props["firstname"] = text
                    props["jobtitle"] = text
                    props["phone"] = text
                elif "subject" in props:
                    props["subject"] = text
                    props["content"] = text
                elif "hs_note_body" in props:
                    props["hs_note_body"] = text

    def build(self) -> Portfolio:
        self.owners()
        self.sequences()
        for story in _story_list(self.rng, self.n):
            self.company(story)
        self.enrollments()
        if self.hostile:
            self.inject_hostile()
        p = self.p
        p.weeks = self.past_weeks + self.weeks
        for domain in sorted(self.usage):
            p.usage_weekly.extend(self.usage[domain])
        for domain in sorted(self.users):
            p.user_activity.extend(self.users[domain])
        return p


class _Account:
    """What the builder knows about one account while it writes the account's records."""

    __slots__ = (
        "churn",
        "contacts",
        "curve",
        "depth",
        "domain",
        "events_last4",
        "id",
        "login_users",
        "name",
        "owner",
        "renewal",
        "seats",
        "start",
        "steps",
        "story",
        "trouble",
    )

    def __init__(
        self,
        cid: str,
        story: str,
        domain: str,
        name: str,
        owner: dict[str, Any],
        seats: int,
        start: date,
        renewal: date,
        churn: date | None,
        steps: list[tuple[float, float, str]],
    ) -> None:
        self.id = cid
        self.story = story
        self.domain = domain
        self.name = name
        self.owner = owner
        self.seats = seats
        self.start = start
        self.renewal = renewal
        self.churn = churn
        self.steps = steps
        # (contact id, role, email, first name, is a product user, properties)
        self.contacts: list[tuple[str, str, str, str, bool, dict[str, str]]] = []
        self.curve: list[float] = []
        self.login_users: list[int] = []
        self.events_last4 = 0
        self.trouble: date | None = None  # the past outcome months of trouble led up to
        self.depth = 0.0  # how much of its use the trouble took


def _login_users(lu: float, share: float, nz: float, cap: int) -> int:
    """A week's distinct login users as the usage rows count them (share 1.0 for logins)."""
    users = int(lu * share * (0.9 + 0.1 * nz) + 0.5)
    return max(1, min(users, cap))


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def generate_portfolio(
    accounts: int = 300, seed: int = 7, today: date | None = None, *, hostile: bool = False
) -> Portfolio:
    """A deterministic demo book of ``accounts`` accounts for (accounts, seed, today, hostile)."""
    if accounts < 1:
        raise ValueError("accounts must be >= 1")
    day = today or datetime.now(UTC).date()
    # Millions of small tuples and dicts, none of them cyclic: the cycle collector would only
    # rescan them again and again (a third of the run time at 10,000 accounts).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _Builder(accounts, seed, day, hostile).build()
    finally:
        if was_enabled:
            gc.enable()


def iter_records(p: Portfolio) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every CRM record of the portfolio as (object type, record)."""
    for kind in OBJECT_TYPES:
        for rec in p.objects(kind):
            yield kind, rec


TICKET_SUBJECTS = (
    "Cannot export report to CSV",
    "SSO login loop for some users",
    "Dashboard loads slowly",
    "How do I add a new seat?",
    "Integration sync failing with 403",
    "Question about invoice",
    "Scheduled report not delivered",
    "Need help setting up automations",
    "Permissions for read-only users",
    "Data mismatch between dashboard and export",
)
ESCALATION_SUBJECTS = (
    "Production outage: dashboards not loading",
    "Data loss after integration update",
    "Executive escalation: repeated sync failures",
    "Billing dispute blocking renewal",
)
TICKET_BODIES = (
    "Customer reports the issue started after the last release; affects several users.",
    "Steps to reproduce attached. Workaround shared, waiting on confirmation.",
    "Asked for screenshots and the browser version.",
    "Escalated to engineering; customer wants an ETA.",
    "Resolved by clearing cached credentials on their side.",
)
NPS_PROMOTER = (
    "Our team lives in the dashboards now.",
    "Great product and great support.",
    "Saved us hours every week on reporting.",
)
NPS_PASSIVE = (
    "Good overall, exports could be faster.",
    "Does the job; the setup took a while.",
    "Solid, but we miss a few integrations.",
)
NPS_DETRACTOR = (
    "Too many outages this quarter.",
    "Hard to get the team to adopt it.",
    "Support takes too long to answer.",
    "Pricing is hard to justify with our usage.",
)
CSAT_GOOD = ("Quick and helpful answer.", "Solved on the first reply.", "Thanks, all good now.")
CSAT_BAD = ("Took days to get a reply.", "The issue came back.", "Answer did not help.")
NOTE_BODIES = (
    "Walked through the new dashboards; they want a follow-up with the analytics team.",
    "Champion happy with adoption; asked about SSO for the wider rollout.",
    "Discussed renewal timeline and budget approval process.",
    "Reviewed open tickets; agreed on a workaround for exports.",
    "Kickoff call: goals, success criteria and the admin's rollout plan.",
    "QBR: usage up, two new teams interested; send pricing for more seats.",
    "Left a voicemail; will try again next week.",
    "Shared best practices for automations; customer will pilot with one team.",
)
CALL_TITLES = ("Check-in call", "Renewal call", "Support follow-up", "Adoption review")
MEETING_TITLES = ("QBR", "Onboarding session", "Executive business review", "Training session")
EMAIL_SUBJECTS = (
    "Following up on our call",
    "Your quarterly usage summary",
    "Renewal next steps",
    "Resources for your team",
)
TASK_SUBJECTS = (
    "Send renewal proposal",
    "Schedule QBR",
    "Follow up on open ticket",
    "Share dashboard best practices",
    "Intro to new admin",
    "Confirm expansion pricing",
    "Check in after training",
)
