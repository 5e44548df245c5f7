"""Read models for scoring: the domain's inputs for a whole book, in a handful of set-based queries.

Each query reads one table for every account at once (never one query per account), and the
heavy lifting (weighting events, per-week sums, power-user ranking) happens inside SQLite.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from csm_tui.domain.lifecycle import ONBOARDING_DAYS
from csm_tui.domain.models import (
    Account,
    AccountInputs,
    NextStep,
    Person,
    ProductUser,
    RecentUsage,
    ScoringRules,
    Survey,
    Ticket,
    Touch,
    WeekUsage,
    week_start,
)
from csm_tui.domain.scoring import usage_windows
from csm_tui.domain.tiers import TierRules
from csm_tui.store.usage_summary import fingerprint, is_current, scored_events

if TYPE_CHECKING:  # a rescore's second process imports this module: no pydantic, no sqlite-utils
    import sqlite_utils

    from csm_tui.config import Settings
    from csm_tui.store.db import Connected

HISTORY_WEEKS = 12  # weeks of score history computed for an account that has none

# Up to this many accounts, a partial rescore counts in SQL where each stands in the book (its
# ARR percentile, its use per seat among its tier's) instead of reading the whole book's ARRs and
# its tiers' figures (thousands of rows, ~5 ms; a count is ~0.2-0.6 ms per account).
FEW_ACCOUNTS = 8


def rules_from_settings(settings: Settings) -> ScoringRules:
    """The domain's scoring rules from the settings."""
    s = settings.scoring
    a = settings.analytics
    return ScoringRules(
        weights=dict(s.weights),
        green=s.green,
        yellow=s.yellow,
        trend_recent_weeks=s.trend_recent_weeks,
        trend_baseline_weeks=s.trend_baseline_weeks,
        trend_full_ratio=s.trend_full_ratio,
        trend_zero_ratio=s.trend_zero_ratio,
        people_active_days=s.people_active_days,
        people_inactive_days=s.people_inactive_days,
        power_user_quiet_days=s.power_user_quiet_days,
        overdue_step_penalty=s.overdue_step_penalty,
        ticket_open_days=s.ticket_open_days,
        ticket_open_penalty=s.ticket_open_penalty,
        ticket_escalated_penalty=s.ticket_escalated_penalty,
        ticket_low_csat_penalty=s.ticket_low_csat_penalty,
        nps_max_age_days=s.nps_max_age_days,
        drop_weeks=s.drop_weeks,
        drop_points=s.drop_points,
        key_features=tuple(a.key_features),
        activation_event=a.activation_event,
        event_weights=dict(a.event_weights),
        default_event_weight=a.default_event_weight,
        expansion_seat_share=s.expansion_seat_share,
        expansion_growth_ratio=s.expansion_growth_ratio,
        power_users=s.power_users,
    )


def tier_rules_from_settings(settings: Settings) -> TierRules:
    """The domain's tier rules from the settings."""
    t = settings.tiers
    return TierRules(
        high_touch_share=t.high_touch_share,
        pooled_share=t.pooled_share,
        high_touch_min_arr=t.high_touch_min_arr,
        pooled_min_arr=t.pooled_min_arr,
    )


@dataclass(frozen=True)
class ScoringSettings:
    """What scoring reads of the settings, as plain data.

    A full rescore's second process receives it (store/rescore_worker.py): importing the
    settings' models there would cost more than a good part of its share of the work.
    """

    rules: ScoringRules
    tier_rules: TierRules
    cadences: dict[str, int]  # days between touches per tier
    event_weights: dict[str, float]
    default_event_weight: float
    activation_event: str
    features: list[str]  # the scored events, in the bit order of usage_summary
    summary_fingerprint: str  # the settings usage_summary's numbers must have been made with


def scoring_settings(settings: Settings | ScoringSettings) -> ScoringSettings:
    """What scoring reads of ``settings`` (given as is when it already is that)."""
    if isinstance(settings, ScoringSettings):
        return settings
    a = settings.analytics
    return ScoringSettings(
        rules=rules_from_settings(settings),
        tier_rules=tier_rules_from_settings(settings),
        cadences=dict(settings.tiers.cadence_days),
        event_weights={e: float(w) for e, w in a.event_weights.items()},
        default_event_weight=float(a.default_event_weight),
        activation_event=a.activation_event,
        features=scored_events(settings),
        summary_fingerprint=fingerprint(settings),
    )


def day(value: Any) -> date | None:
    """A date from an ISO day or instant string (None for empty or unreadable values)."""
    if value.__class__ is str:  # the usual case first: a rescore reads 200,000 dates
        return _DAYS[value[:10]] if value else None
    if value is None:
        return None
    return _DAYS[str(value)[:10]]


class _Days(dict[str, date | None]):
    """The date of each day text seen: a book repeats the same few hundred days (a rescore
    reads 200,000 dates), so each is parsed once; ``day()`` is a lookup."""

    def __missing__(self, text: str) -> date | None:
        try:
            found: date | None = date.fromisoformat(text)
        except ValueError:
            found = None
        if len(self) < 100_000:  # unreadable or odd texts cannot grow it without end
            self[text] = found
        return found


_DAYS = _Days()


@dataclass
class Book:
    """The inputs of the accounts to score, plus what they need from the rest of the book."""

    today: date
    inputs: dict[str, AccountInputs]
    has_usage: bool
    has_touches: bool
    has_tickets: bool
    arrs: list[float]  # every active account's ARR, sorted (empty when ``arr_shares`` is given)
    history: dict[str, dict[date, int]] = field(default_factory=dict)
    # Instead of ``arrs`` (a rescore of a few accounts): where each loaded account's ARR stands
    # among the book's, counted in SQL, posing as ``arrs`` for that ARR (see Standing).
    arr_places: Mapping[str, Sequence[float]] = field(default_factory=dict)
    stored_tiers: dict[str, str] = field(default_factory=dict)
    book_per_seat: dict[str, float] = field(default_factory=dict)  # every active account


@dataclass(frozen=True)
class IdRange:
    """The accounts whose id is at least ``first`` and, when given, below ``before``.

    A full rescore shared by two processes splits the book so: each index is then read over
    one range, where a list of ids is looked up id by id (which cost a half-book read 70% of
    a whole-book one).
    """

    first: str
    before: str | None = None

    def sql(self, column: str) -> tuple[str, list[Any]]:
        """The condition (`` AND ...``) and its parameters."""
        if self.before is None:
            return f" AND {column} >= ?", [self.first]
        return f" AND {column} >= ? AND {column} < ?", [self.first, self.before]


def scope_sql(column: str, account_ids: Collection[str] | IdRange | None) -> tuple[str, list[Any]]:
    """A filter (`` AND ...``) on the accounts asked for (none: every account)."""
    if account_ids is None:
        return "", []
    if isinstance(account_ids, IdRange):
        return account_ids.sql(column)
    ids_json = json.dumps(sorted(set(account_ids)))
    return f" AND {column} IN (SELECT value FROM json_each(?))", [ids_json]


class _Sql:
    """SQL fragments shared by the queries: the account filter and the event weights."""

    def __init__(
        self, spec: ScoringSettings, account_ids: Collection[str] | IdRange | None
    ) -> None:
        self.account_ids = account_ids
        weights = spec.event_weights
        self.weight_sql = "CASE event " + " ".join("WHEN ? THEN ?" for _ in weights) + " ELSE ? END"
        self.weight_params: list[Any] = []
        for event, weight in weights.items():
            self.weight_params += [event, float(weight)]
        self.weight_params.append(float(spec.default_event_weight))
        self.features = spec.features

    def only(self, column: str = "account_id") -> tuple[str, list[Any]]:
        """A filter on the accounts asked for (none: every account)."""
        return scope_sql(column, self.account_ids)


def _rows(db: Connected, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
    return db.conn.execute(sql, list(params)).fetchall()


def _each(db: Connected, sql: str, params: Iterable[Any] = ()) -> Iterator[tuple[Any, ...]]:
    """The rows one at a time, for a loop that reads each once: a large result costs a quarter
    less so than fetched whole (each row is freed, and its memory reused, as the next is read)."""
    return db.conn.execute(sql, list(params))


def load_book(
    db: Connected,
    settings: Settings | ScoringSettings,
    today: date,
    account_ids: Collection[str] | IdRange | None = None,
    history_from: date | None = None,
    *,
    past_weeks: bool = True,
    book_arrs: bool = True,
) -> Book:
    """Load the inputs of every active account (or only ``account_ids``) as of ``today``.

    ``history_from`` is the oldest week whose score may be computed: usage, touches, tickets and
    surveys are read far enough back for it. Every account's ``recent`` usage is today's; unless
    ``past_weeks`` (scores of past weeks are computed too), only what today's score reads is
    kept: no ``usage`` weeks, and of the touches only the latest and the latest with a feeling.
    Without ``book_arrs`` (a rescore of a few accounts), ``arrs`` is left empty and each loaded
    account's place among the book's ARRs is counted in SQL instead (``arr_places``).
    """
    spec = scoring_settings(settings)
    rules = spec.rules
    q = _Sql(spec, account_ids)
    current = week_start(today)
    oldest_asof = min(history_from or current, current)
    span = rules.trend_recent_weeks + rules.trend_baseline_weeks
    usage_from = (oldest_asof - timedelta(weeks=span)).isoformat()
    # Far enough back for every rule: NPS age, two cadences of silence, CSAT within 30 days.
    longest_cadence = max(spec.cadences.values(), default=90)
    horizon = oldest_asof - timedelta(days=max(rules.nps_max_age_days, 2 * longest_cadence) + 31)

    only, only_p = q.only("a.id")
    accounts: dict[str, Account] = {}
    for row in _each(
        db,
        "SELECT a.id, a.name, a.domain, a.owner_id, COALESCE(o.email, ''), a.arr, a.seats, "
        "a.contract_start, a.renewal_date, a.cs_stage, a.churned_on FROM accounts a "
        "LEFT JOIN owners o ON o.id = a.owner_id WHERE a.archived = 0" + only,
        only_p,
    ):
        accounts[row[0]] = Account(  # by position: 10,000 of them
            row[0],  # id
            row[1] or "",  # name
            row[2] or "",  # domain
            row[3],  # owner_id
            row[4] or "",  # owner
            float(row[5] or 0.0),  # arr
            int(row[6]) if row[6] else None,  # seats
            day(row[7]),  # contract_start
            day(row[8]),  # renewal_date
            row[9],  # cs_stage
            day(row[10]),  # churned_on
        )

    only, only_p = q.only()
    # Renewals lost: a renewal deal closed lost, with no later renewal won.
    lost: dict[str, date] = {}
    won: dict[str, date] = {}
    for acc, stage, close in _each(
        db,
        "SELECT account_id, LOWER(COALESCE(stage, '')), MAX(close_date) FROM deals "
        "WHERE archived = 0 AND LOWER(COALESCE(kind, '')) = 'renewal' AND close_date IS NOT NULL"
        + only
        + " GROUP BY account_id, LOWER(COALESCE(stage, ''))",
        only_p,
    ):
        when = day(close)
        if when is None:
            continue
        if "lost" in stage:
            lost[acc] = max(lost.get(acc, when), when)
        elif "won" in stage:
            won[acc] = max(won.get(acc, when), when)
    for acc, when in lost.items():
        if acc in accounts and (acc not in won or won[acc] < when):
            accounts[acc] = replace(accounts[acc], renewal_lost_on=when)

    # Usage per (account, week): weighted points, most users of one event, features used; from
    # the per-week summary when it is up to date (a full rescore refreshes it first).
    from_summary = is_current(db, spec.summary_fingerprint)
    if from_summary:
        week_rows = _each(
            db,
            "SELECT account_id, week, points, users, features FROM usage_summary "
            "WHERE week >= ?" + only + " ORDER BY account_id, week",
            [usage_from, *only_p],
        )
    else:
        bits = " ".join(f"WHEN ? THEN {1 << i}" for i in range(len(q.features)))
        week_rows = _each(
            db,
            f"SELECT account_id, week, SUM(count * ({q.weight_sql})), MAX(users), "
            f"SUM(CASE WHEN count > 0 THEN (CASE event {bits} ELSE 0 END) ELSE 0 END) "
            "FROM usage_weekly WHERE week >= ?"
            + only
            + " GROUP BY account_id, week ORDER BY account_id, week",
            [*q.weight_params, *q.features, usage_from, *only_p],
        )
    usage, recent = _usage_by_account(week_rows, accounts, q.features, today, rules, past_weeks)

    # Each account's first week of use; the activation event only matters to accounts young
    # enough to be onboarding.
    young = (today - timedelta(days=ONBOARDING_DAYS + 7)).isoformat()
    if from_summary:
        # The first row of each account in the summary: a seek per account.
        first_use_sql = (
            "SELECT a.id, (SELECT s.week FROM usage_summary s WHERE s.account_id = a.id "
            "ORDER BY s.week LIMIT 1) FROM accounts a WHERE a.archived = 0" + q.only("a.id")[0]
        )
        activation_sql = "SELECT account_id, MIN(week) FROM usage_summary WHERE features & ? != 0"
        activation_p: list[Any] = [1 << q.features.index(spec.activation_event)]
    else:
        first_use_sql = (
            "SELECT account_id, MIN(week) FROM usage_weekly WHERE 1 = 1"
            + only
            + " GROUP BY account_id"
        )
        activation_sql = (
            "SELECT account_id, MIN(week) FROM usage_weekly WHERE event = ? AND count > 0"
        )
        activation_p = [spec.activation_event]
    first_use = {acc: day(first) for acc, first in _each(db, first_use_sql, only_p)}
    first_activation: dict[str, date | None] = {}
    for acc, activated in _each(
        db,
        activation_sql
        + " AND account_id IN (SELECT id FROM accounts WHERE archived = 0 AND (contract_start "
        "IS NULL OR contract_start >= ?)" + q.only("id")[0] + ")" + only + " GROUP BY account_id",
        [*activation_p, young, *only_p, *only_p],
    ):
        first_activation[acc] = day(activated)

    # Admins and champions, with the latest sign of life from the CRM or the analytics.
    people: dict[str, list[Person]] = defaultdict(list)
    c_only, c_only_p = q.only("c.account_id")
    for acc, email, role, last_active, last_seen in _each(
        db,
        "SELECT c.account_id, c.email, LOWER(c.role), c.last_active, "
        "(SELECT MAX(u.last_seen) FROM user_activity u WHERE u.account_id = c.account_id "
        "AND c.email IS NOT NULL AND LOWER(u.email) = LOWER(c.email)) FROM contacts c "
        "WHERE c.archived = 0 AND LOWER(c.role) IN ('admin', 'champion')"
        + c_only
        + " ORDER BY c.account_id, c.email",
        c_only_p,
    ):
        crm, analytics = day(last_active), day(last_seen)
        seen = analytics if crm is None else crm if analytics is None else max(crm, analytics)
        people[acc].append(Person(email or "", role, seen))

    power: dict[str, list[ProductUser]] = defaultdict(list)
    a_only, a_only_p = q.only("a.id")
    for acc, email, events, last_seen in _each(
        db,
        # Each account's top users by a seek on idx_user_activity_top (a window function over
        # every user sorted them all: 0.6 s at 10,000 accounts).
        "SELECT u.account_id, COALESCE(u.email, u.user_key), u.events_30d, u.last_seen "
        "FROM accounts a JOIN user_activity u ON u.rowid IN (SELECT x.rowid FROM user_activity x "
        "WHERE x.account_id = a.id AND x.events_30d > 0 ORDER BY x.events_30d DESC, x.user_key "
        "LIMIT ?) WHERE 1 = 1" + a_only + " ORDER BY u.account_id, u.events_30d DESC, u.user_key",
        [rules.power_users, *a_only_p],
    ):
        power[acc].append(ProductUser(email or "", int(events or 0), day(last_seen)))

    seats_used: dict[str, int] = {}
    for acc, n in _each(
        db,
        "SELECT account_id, COUNT(*) FROM user_activity WHERE last_seen >= ?"
        + only
        + " GROUP BY account_id",
        [(today - timedelta(days=30)).isoformat(), *only_p],
    ):
        seats_used[acc] = int(n)

    touches: dict[str, list[Touch]] = defaultdict(list)
    latest: dict[str, date] = {}
    felt: dict[str, Touch] = {}
    # Nothing after ``today`` is read beyond what the rules skip themselves (a past day's score
    # must not see its future), and of the touches before the horizon only the latest that
    # counts as a touch (not a negative one: no relationship credit) and the latest that
    # recorded a feeling: with the rows since the horizon, the same for any day scored.
    day_after = (today + timedelta(days=1)).isoformat()
    for acc, occurred, sentiment in _each(
        db,
        "SELECT account_id, occurred_at, sentiment FROM touches WHERE occurred_at >= ? "
        "AND occurred_at < ?"
        + only
        # (SQLite returns the sentiment of the row holding the MAX.)
        + " UNION ALL SELECT account_id, MAX(occurred_at), NULL FROM touches "
        "WHERE occurred_at < ? AND COALESCE(sentiment, '') != 'negative'"
        + only
        + " GROUP BY account_id UNION ALL SELECT account_id, MAX(occurred_at), sentiment "
        "FROM touches WHERE occurred_at < ? AND sentiment IS NOT NULL AND sentiment != ''"
        + only
        + " GROUP BY account_id",
        [horizon.isoformat(), day_after, *only_p, *([horizon.isoformat(), *only_p] * 2)],
    ):
        when = day(occurred)
        if when is None:
            continue
        if past_weeks:
            touches[acc].append(Touch(when, sentiment))
            continue
        # Today's score reads the latest touch up to today that is no negative one, and the
        # latest that recorded a feeling (the first of a day's, as max() over these rows in
        # this order would).
        if when > today:
            continue
        if sentiment != "negative" and (acc not in latest or when > latest[acc]):
            latest[acc] = when
        if sentiment and (acc not in felt or when > felt[acc].occurred):
            felt[acc] = Touch(when, sentiment)
    for acc in latest.keys() | felt.keys():
        kept = [Touch(latest[acc])] if acc in latest else []
        touches[acc] = [*kept, felt[acc]] if acc in felt else kept

    steps: dict[str, list[NextStep]] = defaultdict(list)
    for acc, title, due, created in _each(
        db,
        "SELECT account_id, title, due_date, created_at FROM next_steps WHERE done = 0" + only,
        only_p,
    ):
        steps[acc].append(NextStep(title or "", day(due), day(created)))

    tickets: dict[str, list[Ticket]] = defaultdict(list)
    for acc, created, closed, status, priority, escalated, csat, subject in _each(
        db,
        "SELECT account_id, created_at, closed_at, LOWER(COALESCE(status, '')), priority, "
        "escalated, csat, subject FROM tickets WHERE archived = 0 AND (closed_at IS NULL OR "
        "closed_at >= ? OR created_at >= ?)" + only,
        [horizon.isoformat(), horizon.isoformat(), *only_p],
    ):
        opened = day(created)
        if opened is None:
            continue
        tickets[acc].append(
            Ticket(  # by position
                opened,  # created
                day(closed),  # closed
                status == "closed",  # is_closed
                (priority or "").upper(),  # priority
                None if escalated is None else bool(escalated),  # escalated (None: not known)
                int(csat) if csat is not None else None,  # csat
                subject or "",  # subject
            )
        )

    surveys: dict[str, list[Survey]] = defaultdict(list)
    for acc, kind, score, submitted in _each(
        db,
        "SELECT account_id, LOWER(kind), score, submitted_at FROM survey_responses "
        "WHERE archived = 0 AND submitted_at >= ?" + only,
        [horizon.isoformat(), *only_p],
    ):
        when = day(submitted)
        if when is not None and score is not None:
            surveys[acc].append(Survey(kind, int(score), when))

    inputs: dict[str, AccountInputs] = {}
    none: tuple[Any, ...] = ()
    for acc_id, acc in accounts.items():
        weeks = usage.get(acc_id)
        inputs[acc_id] = AccountInputs(  # by position: 10,000 of them, keywords cost more
            acc,  # account
            tuple(sorted(weeks, key=_week_of)) if weeks else none,  # usage
            first_use.get(acc_id),  # first_usage_week
            _activation(acc, first_activation.get(acc_id), young),  # first_activation
            {},  # event_windows (read later, for the accounts whose usage fell)
            tuple(people.get(acc_id, none)),  # people
            tuple(power.get(acc_id, none)),  # product_users
            seats_used.get(acc_id),  # seats_used
            tuple(touches.get(acc_id, none)),  # touches
            tuple(steps.get(acc_id, none)),  # next_steps
            tuple(tickets.get(acc_id, none)),  # tickets
            tuple(surveys.get(acc_id, none)),  # surveys
            recent[acc_id],  # recent
        )

    def exists(table: str) -> bool:
        return bool(_rows(db, f"SELECT EXISTS (SELECT 1 FROM {table})")[0][0])

    return Book(
        today=today,
        inputs=inputs,
        has_usage=exists("usage_weekly"),
        has_touches=exists("touches"),
        has_tickets=exists("tickets"),
        arrs=load_arrs(db) if book_arrs else [],
        arr_places={} if book_arrs else _arr_places(db, accounts.values()),
    )


def load_arrs(db: Connected) -> list[float]:
    """Every active account's ARR (none: 0), sorted."""
    return sorted(
        float(r[0] or 0.0) for r in _each(db, "SELECT arr FROM accounts WHERE archived = 0")
    )


class Standing(Sequence[float]):
    """A sorted list of ``n`` numbers as seen from one ``value``: ``below`` of them are smaller
    and ``equal`` the same, the rest larger.

    It poses as that list for what the ranking functions read of it (its length, and where the
    value falls: ``bisect`` of ``value``), which then give exactly what the real list gives;
    counting those in SQL costs far less than reading thousands of rows for one account.
    """

    __slots__ = ("below", "equal", "n", "value")

    def __init__(self, value: float, below: int, equal: int, n: int) -> None:
        self.value, self.below, self.equal, self.n = value, below, equal, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.n))]
        if index < 0:
            index += self.n
        if not 0 <= index < self.n:
            raise IndexError(index)
        if index < self.below:
            return -math.inf
        return self.value if index < self.below + self.equal else math.inf

    def __repr__(self) -> str:
        return f"Standing({self.value!r}, below={self.below}, equal={self.equal}, n={self.n})"


def _arr_places(db: Connected, accounts: Iterable[Account]) -> dict[str, Standing]:
    """Where each account's ARR stands among every active account's (``load_arrs``), counted on
    the ARR index. An ARR of NULL counts as 0, as in ``load_arrs``."""
    places: dict[str, Standing] = {}
    for acc in accounts:
        below, equal, unknown, n = _rows(
            db,
            "SELECT (SELECT COUNT(*) FROM accounts WHERE archived = 0 AND arr < ?), "
            "(SELECT COUNT(*) FROM accounts WHERE archived = 0 AND arr = ?), "
            "(SELECT COUNT(*) FROM accounts WHERE archived = 0 AND arr IS NULL), "
            "(SELECT COUNT(*) FROM accounts WHERE archived = 0)",
            [acc.arr, acc.arr],
        )[0]
        if acc.arr > 0.0:
            below += unknown
        elif acc.arr == 0.0:
            equal += unknown
        places[acc.id] = Standing(acc.arr, below, equal, n)
    return places


def _week_of(week: WeekUsage) -> date:
    return week.week


def _usage_by_account(
    week_rows: Iterable[tuple[Any, ...]],
    accounts: dict[str, Account],
    features: list[str],
    today: date,
    rules: ScoringRules,
    past_weeks: bool,
) -> tuple[dict[str, list[WeekUsage]], dict[str, RecentUsage]]:
    """Rows (account, week, points, users, feature bits), ordered by account, as each account's
    weeks (when ``past_weeks``) and as the RecentUsage today's score reads (every account).

    Runs once per row of twelve weeks of the whole book, hence the plain loop.
    """
    recent_weeks, baseline = usage_windows(today, rules)
    slots = {w: i for i, w in enumerate(recent_weeks + baseline)}
    n_recent = len(recent_weeks)
    since = today - timedelta(days=30)
    zeros, no_users = [0.0] * len(slots), [0] * n_recent
    feature_sets: dict[int, frozenset[str]] = {}

    def feature_set(mask: int) -> frozenset[str]:
        if mask not in feature_sets:
            feature_sets[mask] = frozenset(f for i, f in enumerate(features) if mask & (1 << i))
        return feature_sets[mask]

    # Per distinct week text: (its date, its slot in the windows, whether it overlaps the 30
    # days before today, as the score's feature count reads).
    weeks: dict[Any, tuple[date | None, int | None, bool]] = {}
    usage: dict[str, list[WeekUsage]] = defaultdict(list)
    recent: dict[str, RecentUsage] = {}
    acc = None
    points, users, mask = zeros, no_users, 0
    for row_acc, week, pts, most, bits in week_rows:
        if row_acc != acc:
            if acc is not None:
                recent[acc] = RecentUsage(today, tuple(points), tuple(users), feature_set(mask))
            acc = row_acc if row_acc in accounts else None
            points, users, mask = zeros[:], no_users[:], 0
            if acc is None:
                continue
        elif acc is None:
            continue
        if week not in weeks:
            when = day(week)
            overlaps = when is not None and when + timedelta(days=6) >= since and when <= today
            weeks[week] = (when, slots.get(when), overlaps)  # type: ignore[arg-type]
        when, slot, overlaps = weeks[week]
        if when is None:
            continue
        pts = float(pts or 0.0)
        if slot is not None:
            points[slot] = pts
            if slot < n_recent:
                users[slot] = int(most or 0)
        if overlaps and bits:
            mask |= int(bits)
        if past_weeks:
            usage[acc].append(WeekUsage(when, pts, int(most or 0), feature_set(int(bits or 0))))
    if acc is not None:
        recent[acc] = RecentUsage(today, tuple(points), tuple(users), feature_set(mask))
    none = RecentUsage(today, tuple(zeros), tuple(no_users), frozenset())
    return usage, {a: recent.get(a, none) for a in accounts}


def load_event_windows(
    db: Connected,
    settings: Settings | ScoringSettings,
    today: date,
    account_ids: Collection[str],
) -> dict[str, dict[str, tuple[int, int]]]:
    """Per account and event: (count in the recent window, count in the baseline window).

    Only accounts whose usage fell need it (to name the event that fell), so it is read for
    those alone, by primary key.
    """
    if not account_ids:
        return {}
    rules = scoring_settings(settings).rules
    current = week_start(today)
    recent_from = current - timedelta(weeks=rules.trend_recent_weeks)
    base_from = recent_from - timedelta(weeks=rules.trend_baseline_weeks)
    windows: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    for acc, event, recent, base in _each(
        db,
        "SELECT account_id, event, SUM(CASE WHEN week >= ? THEN count ELSE 0 END), "
        "SUM(CASE WHEN week < ? THEN count ELSE 0 END) FROM usage_weekly "
        "WHERE account_id IN (SELECT value FROM json_each(?)) AND week >= ? AND week < ? "
        "GROUP BY account_id, event",
        [
            recent_from.isoformat(),
            recent_from.isoformat(),
            json.dumps(sorted(set(account_ids))),
            base_from.isoformat(),
            current.isoformat(),
        ],
    ):
        windows[acc][event] = (int(recent or 0), int(base or 0))
    return dict(windows)


def _activation(account: Account, first: date | None, young: str) -> date | None:
    """The first activation week; for accounts too old to be onboarding, their contract start."""
    if first is not None:
        return first
    start = account.contract_start
    if start is not None and start.isoformat() < young:
        return start  # not looked up: only the onboarding rule reads it
    return None


def load_history(
    db: sqlite_utils.Database,
    since: date,
    before: date,
    account_ids: Collection[str] | IdRange | None = None,
    weeks: Collection[date] | None = None,
) -> dict[str, dict[date, int]]:
    """Stored weekly health per account for weeks in [since, before) (only ``weeks``, if given)."""
    sql = "SELECT account_id, week, health FROM score_history WHERE week >= ? AND week < ?"
    params: list[Any] = [since.isoformat(), before.isoformat()]
    if weeks is not None:
        sql += " AND week IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(sorted(w.isoformat() for w in weeks)))
    only, only_p = scope_sql("account_id", account_ids)
    sql += only
    params += only_p
    found: dict[str, dict[date, int]] = defaultdict(dict)
    for acc, week, health in _each(db, sql, params):
        when = day(week)
        if when is not None:
            found[acc][when] = int(health)
    return dict(found)


def load_week_health(
    db: Connected,
    weeks: Sequence[date],
    account_ids: Collection[str] | IdRange | None = None,
) -> dict[str, list[Any]]:
    """Each active account's stored health of each of ``weeks`` (None where there is none), in
    the order of ``weeks``.

    One row per account, each week found by primary key: reading a few weeks of every account
    otherwise scans the whole history (and returns a row per account and week).
    """
    if not weeks:
        return {}
    picks = ", ".join(
        f"(SELECT h.health FROM score_history h WHERE h.account_id = a.id AND h.week = ?{i})"
        for i in range(1, len(weeks) + 1)
    )
    only, only_p = scope_sql("a.id", account_ids)
    found: dict[str, list[Any]] = {}
    for acc, *healths in _each(
        db,
        # (A plain ? after ?1..?n is ?n+1: the scope's parameters follow the weeks.)
        f"SELECT a.id, {picks} FROM accounts a WHERE a.archived = 0" + only,
        [*(w.isoformat() for w in weeks), *only_p],
    ):
        found[acc] = healths
    return found


@dataclass(frozen=True)
class BookReference:
    """What a partial rescore needs from the rest of the book."""

    tiers: dict[str, str]  # stored tiers (at least of the accounts rescored)
    per_seat: dict[str, float]  # use per seat (at least of the accounts rescored)
    peers: dict[str, list[float]]  # per tier, every active account's use per seat, sorted
    # Instead of ``peers`` (see load_book_reference): per account, its tier's ``peers`` as seen
    # from its use per seat today (a Standing).
    account_peers: dict[str, Sequence[float]] = field(default_factory=dict)


def load_book_reference(
    db: sqlite_utils.Database,
    settings: Settings | ScoringSettings,
    today: date,
    account_ids: Collection[str] | None = None,
    per_seat_now: Mapping[str, float] | None = None,
) -> BookReference:
    """The stored tiers and use per seat of the book, for rescoring ``account_ids`` alone.

    Read from what the last full rescore stored (only the rows it needs) when that is this
    week's; otherwise computed from all the usage. Given ``per_seat_now`` (each account's use
    per seat today, the value its score ranks among its tier's), and when every account asked
    for has a stored tier, the tiers' figures are not read: ``account_peers`` says where each
    account's value stands among them, counted on the reference's index (``peers`` is empty).
    """
    week = week_start(today).isoformat()
    if (
        account_ids is not None
        and _rows(db, "SELECT EXISTS (SELECT 1 FROM score_reference WHERE week = ?)", [week])[0][0]
    ):
        # Triggers empty the table whenever an account is added, removed, archived or its ARR
        # changes, so this week's rows cover exactly the active accounts.
        tiers: dict[str, str] = {}
        per_seat: dict[str, float] = {}
        for acc, tier, seat in _each(
            db,
            # By primary key (on ``week`` the planner would pick the peers index: a scan).
            "SELECT account_id, tier, usage_per_seat FROM score_reference "
            "WHERE account_id IN (SELECT value FROM json_each(?)) AND +week = ?",
            [json.dumps(sorted(set(account_ids))), week],
        ):
            if tier is not None:
                tiers[acc] = tier
            per_seat[acc] = float(seat)
        if per_seat_now is not None and all(acc in tiers for acc in per_seat_now):
            places: dict[str, Sequence[float]] = {}
            for acc, value in per_seat_now.items():
                below, equal, n = _rows(
                    db,
                    "SELECT (SELECT COUNT(*) FROM score_reference WHERE week = ?1 AND tier = ?2 "
                    "AND usage_per_seat < ?3), (SELECT COUNT(*) FROM score_reference "
                    "WHERE week = ?1 AND tier = ?2 AND usage_per_seat = ?3), "
                    "(SELECT COUNT(*) FROM score_reference WHERE week = ?1 AND tier = ?2)",
                    [week, tiers[acc], value],
                )[0]
                places[acc] = Standing(value, below, equal, n)
            return BookReference(tiers, per_seat, {}, places)
        wanted = set(tiers.values())
        if len(tiers) < len(set(account_ids)):
            wanted = {t for (t,) in _each(db, "SELECT DISTINCT tier FROM score_reference")}
        peers: dict[str, list[float]] = {}
        for tier in sorted(t for t in wanted if t is not None):
            peers[tier] = [
                float(r[0])
                for r in _each(
                    db,
                    "SELECT usage_per_seat FROM score_reference WHERE week = ? AND tier = ? "
                    "ORDER BY usage_per_seat",
                    [week, tier],
                )
            ]
        return BookReference(tiers, per_seat, peers)
    tiers, per_seat = _scanned_reference(db, settings, today)
    grouped: dict[str, list[float]] = defaultdict(list)
    for acc, value in per_seat.items():
        tier = tiers.get(acc)
        if tier is not None:
            grouped[tier].append(value)
    for values in grouped.values():
        values.sort()
    return BookReference(tiers, per_seat, dict(grouped))


def _scanned_reference(
    db: sqlite_utils.Database, settings: Settings | ScoringSettings, today: date
) -> tuple[dict[str, str], dict[str, float]]:
    """Stored tiers, and use per seat computed from the usage of every active account."""
    spec = scoring_settings(settings)
    rules = spec.rules
    q = _Sql(spec, None)
    tiers = {
        acc: tier
        for acc, tier in _each(
            db,
            "SELECT s.account_id, s.tier FROM scores s JOIN accounts a ON a.id = s.account_id "
            "WHERE a.archived = 0 AND s.tier IS NOT NULL",
        )
    }
    current = week_start(today)
    recent_from = current - timedelta(weeks=rules.trend_recent_weeks)
    # Every active account counts, those without recent usage at zero (as a full rescore does).
    per_seat: dict[str, float] = {}
    for acc, points, users in _each(
        db,
        f"SELECT a.id, SUM(u.count * ({q.weight_sql.replace('event', 'u.event')})), "
        "MAX(u.users) FROM accounts a LEFT JOIN usage_weekly u ON u.account_id = a.id "
        "AND u.week >= ? AND u.week < ? WHERE a.archived = 0 GROUP BY a.id",
        [*q.weight_params, recent_from.isoformat(), current.isoformat()],
    ):
        pts = float(points or 0.0)
        per_seat[acc] = (
            0.0 if pts <= 0 else round(pts / rules.trend_recent_weeks / max(int(users or 0), 1), 6)
        )
    return tiers, per_seat
