"""The health score (docs/ARCHITECTURE.md): six components, each explained in points and words.

Health = weighted mean of the sub-scores (0-100) of the components that have data; a component
without data is left out and its weight shared by the rest in proportion. Drivers give each
component's integer points out of its integer share; both add up exactly (largest remainder).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache

from csm_tui.domain.models import (
    COMPONENTS,
    GREEN,
    RED,
    YELLOW,
    AccountInputs,
    BookContext,
    Component,
    Driver,
    Health,
    Person,
    ProductUser,
    RecentUsage,
    ScoringRules,
    UsageFacts,
    WeekUsage,
    plain,
    week_start,
)

# Plain nouns for the default events; any other event name is shown with spaces.
EVENT_NOUNS = {
    "login": "logins",
    "project_created": "new projects",
    "report_created": "reports",
    "dashboard_shared": "dashboard shares",
    "export_run": "exports",
    "integration_connected": "integrations",
    "automation_created": "automations",
}


def event_noun(event: str) -> str:
    """A plain noun for an analytics event ("export_run" -> "exports")."""
    noun = EVENT_NOUNS.get(event)
    return noun if noun is not None else plain(event).replace("_", " ").replace("$", "")


def _plain(text: str | None) -> str:
    """``plain(text)``, without its regular expressions for the usual text that needs none.

    Everything plain() removes or replaces is unprintable, and the only printable whitespace is
    the space, so printable text without a double space comes back merely stripped.
    """
    if text and text.isprintable() and "  " not in text:
        return text.strip()
    return plain(text)


def band_of(score: int | None, rules: ScoringRules) -> str | None:
    """green >= rules.green, yellow >= rules.yellow, red below; None without a score."""
    if score is None:
        return None
    if score >= rules.green:
        return GREEN
    if score >= rules.yellow:
        return YELLOW
    return RED


def _linear(value: float, full_at: float, zero_at: float) -> float:
    """100 at ``full_at``, 0 at ``zero_at``, linear between (either direction)."""
    if full_at == zero_at:
        return 100.0 if value == full_at else 0.0
    share = (value - zero_at) / (full_at - zero_at)
    return 100.0 * min(1.0, max(0.0, share))


def percentile_rank(value: float, peers: Sequence[float], exclude: float | None = None) -> float:
    """Where ``value`` stands among ``peers`` (sorted), 0-100; 50 with no peers.

    ``exclude`` is the account's own entry in ``peers`` (left out of the comparison), so one
    sorted list serves a whole tier.
    """
    below = bisect_left(peers, value)
    equal = bisect_right(peers, value) - below
    n = len(peers)
    if exclude is not None and n:
        n -= 1
        if exclude < value:
            below -= 1
        elif exclude == value:
            equal -= 1
    if n <= 0:
        return 50.0
    return 100.0 * (below + 0.5 * equal) / n


# -- windows ---------------------------------------------------------------------------------


def usage_windows(today: date, rules: ScoringRules) -> tuple[list[date], list[date]]:
    """The recent and baseline windows: complete weeks before ``today``'s week, newest first."""
    recent, baseline = _windows(today, rules.trend_recent_weeks, rules.trend_baseline_weeks)
    return list(recent), list(baseline)


@lru_cache(maxsize=64)
def _windows(
    today: date, recent_weeks: int, baseline_weeks: int
) -> tuple[tuple[date, ...], tuple[date, ...]]:
    """Cached: a rescore asks for the same windows once per account."""
    return _compute_windows(today, recent_weeks, baseline_weeks)


_WEEK = timedelta(weeks=1)


def _compute_windows(
    today: date, recent_weeks: int, baseline_weeks: int
) -> tuple[tuple[date, ...], tuple[date, ...]]:
    current = week_start(today)
    recent = tuple(current - timedelta(weeks=k) for k in range(1, recent_weeks + 1))
    end = recent_weeks + baseline_weeks
    baseline = tuple(current - timedelta(weeks=k) for k in range(recent_weeks + 1, end + 1))
    return recent, baseline


def per_seat(usage: Sequence[WeekUsage], today: date, rules: ScoringRules) -> float:
    """Weighted event points per active seat per week over the recent window."""
    return recent_per_seat(recent_usage(usage, today, rules))


def recent_per_seat(recent: RecentUsage) -> float:
    """Weighted event points per active seat per week over the recent window."""
    users = recent.users
    points = 0.0
    for i in range(len(users) - 1, -1, -1):  # oldest first, as the figure has always been summed
        points += recent.points[i]
    if points <= 0:
        return 0.0
    # Rounded so the same figure summed by SQLite (a partial rescore's peers) compares equal.
    return round(points / len(users) / max(max(users), 1), 6)


def recent_usage(usage: Sequence[WeekUsage], today: date, rules: ScoringRules) -> RecentUsage:
    """``usage`` (any weeks, in any order) as the score of ``today`` reads it."""
    recent, baseline = _windows(today, rules.trend_recent_weeks, rules.trend_baseline_weeks)
    by_week = {w.week: w for w in usage}
    points = tuple(by_week[w].points if w in by_week else 0.0 for w in recent + baseline)
    users = tuple(by_week[w].users if w in by_week else 0 for w in recent)
    return RecentUsage(today, points, users, frozenset(_features_30d(usage, today)))


def _recent_of(inputs: AccountInputs, today: date, rules: ScoringRules) -> RecentUsage:
    """The inputs' precomputed usage for ``today`` when they have it, else made from the weeks."""
    recent = inputs.recent
    if recent is not None and recent.day == today:
        return recent
    return recent_usage(inputs.usage, today, rules)


@lru_cache(maxsize=16)
def _key_set(key_features: tuple[str, ...]) -> frozenset[str]:
    return frozenset(key_features)


# -- components ------------------------------------------------------------------------------


def _usage(
    inputs: AccountInputs,
    recent: RecentUsage,
    ctx: BookContext,
    today: date,
    rules: ScoringRules,
) -> tuple[Component, UsageFacts]:
    # Weeks without usage are 0.0 in ``recent.points``: adding them changes no sum, so every
    # mean below equals the sum over the weeks that had usage, in the same order.
    recent_weeks, baseline = _windows(today, rules.trend_recent_weeks, rules.trend_baseline_weeks)
    seat_value = recent_per_seat(recent)
    activated = inputs.first_activation is not None and inputs.first_activation <= today
    used = len(recent.features & _key_set(rules.key_features))
    if not ctx.has_usage:
        return Component("usage", None, "no product usage synced yet"), UsageFacts(
            activated=activated
        )
    level = 0.0 if seat_value <= 0 else percentile_rank(seat_value, ctx.usage_peers, ctx.peer_self)
    n_recent = len(recent_weeks)
    recent_mean = sum(recent.points[:n_recent]) / n_recent
    first = inputs.first_usage_week
    if first is not None and first > today:
        first = None
    # The baseline weeks since the first use: the newest ones, so a prefix of ``baseline``.
    n_base = 0
    if first is not None:
        for w in baseline:
            if w < first:
                break
            n_base += 1
    current = recent_weeks[0] + _WEEK
    ratio: float | None
    trend: float | None
    if first is None or first >= current:
        ratio, trend = None, (0.0 if first is None else None)
    elif not n_base:
        ratio, trend = None, None  # started within the recent window: no baseline yet
    else:
        base_mean = sum(recent.points[n_recent : n_recent + n_base]) / n_base
        if base_mean <= 0:
            ratio = None
            trend = 100.0 if recent_mean > 0 else 0.0
        else:
            ratio = min(recent_mean / base_mean, 100.0)  # a near-empty baseline: cap it
            trend = _linear(ratio, rules.trend_full_ratio, rules.trend_zero_ratio)
    # The branch below that names the event that fell (the rescore then reads event_windows).
    cause_wanted = (
        first is not None
        and first < current
        and trend is not None
        and recent_mean > 0
        and ratio is not None
        and 100 - trend > 0
        and 100 - trend >= 100 - level
    )
    facts = UsageFacts(  # by position: 10,000 per rescore
        seat_value,  # per_seat
        ratio,  # ratio
        used,  # features_used
        activated,  # activated
        first is not None and first < baseline[-1],  # full_baseline
        cause_wanted,  # cause_wanted
    )
    if first is None:
        return Component("usage", 0.0, "No product use yet", "No product use"), facts
    if first >= current:
        return Component("usage", None, "first product use this week: too early to score"), facts
    sub = level if trend is None else (level + trend) / 2
    tier = ctx.tier
    level_text = f"use per seat at {_ordinal(level)} percentile of {tier} accounts"
    if trend is None:
        reason = f"Usage new (no baseline yet); {level_text}"
        chip = "Low use per seat" if level < 40 else ""
        return Component("usage", sub, _cap(reason), chip), facts
    weeks = rules.trend_baseline_weeks
    if recent_mean <= 0:
        reason = f"No product use in the last {rules.trend_recent_weeks} weeks"
        return Component("usage", sub, reason, "No product use"), facts
    if ratio is None:
        reason = f"Usage restarted after a quiet baseline; {level_text}"
        return Component("usage", sub, _cap(reason), ""), facts
    change = round((ratio - 1) * 100)
    if cause_wanted:
        worst = _worst_event(inputs, rules)
        what = f"{worst[0].capitalize()} down {worst[1]}%" if worst else "Usage down"
        reason = f"{what} vs prior {weeks} weeks"
        if worst:
            reason += f" (all use {signed(change)}%)"
        chip = f"Usage {signed(change)}% vs {weeks} wk"
        return Component("usage", sub, reason, chip), facts
    trend_text = (
        f"usage {signed(change)}% vs prior {weeks} weeks"
        if abs(change) >= 5
        else f"usage steady vs prior {weeks} weeks"
    )
    reason = f"{level_text.capitalize()}; {trend_text}"
    chip = "Low use per seat" if level < 30 else ""
    return Component("usage", sub, reason, chip), facts


def _worst_event(inputs: AccountInputs, rules: ScoringRules) -> tuple[str, int] | None:
    """The event that lost the most (by count share) and its fall in percent."""
    best: tuple[float, str, int] | None = None
    for event, (recent, base) in inputs.event_windows.items():
        if base <= 0:
            continue
        recent_mean = recent / rules.trend_recent_weeks
        base_mean = base / rules.trend_baseline_weeks
        if recent_mean >= base_mean:
            continue
        fall = 1 - recent_mean / base_mean
        weight = rules.event_weights.get(event, rules.default_event_weight)
        lost = (base_mean - recent_mean) * weight
        # Rank by relative fall, weighted by how many points the event lost.
        key = fall * math.sqrt(max(lost, 0.0))
        if best is None or key > best[0]:
            best = (key, event, round(fall * 100))
    if best is None:
        return None
    return event_noun(best[1]), best[2]


def _features_30d(usage: Sequence[WeekUsage], today: date) -> set[str]:
    since = today - timedelta(days=30)
    found: set[str] = set()
    for week in usage:
        if week.week + timedelta(days=6) >= since and week.week <= today:
            found |= week.features
    return found


def _adoption(ctx: BookContext, rules: ScoringRules, used: frozenset[str]) -> Component:
    return _adoption_of(ctx.has_usage, tuple(rules.key_features), used)


@lru_cache(maxsize=1024)
def _adoption_of(has_usage: bool, keys: tuple[str, ...], used: frozenset[str]) -> Component:
    """Cached: it depends on the features used alone, and a book has a few dozen such sets."""
    if not has_usage or not keys:
        return Component("adoption", None, "no product usage synced yet")
    missing = [k for k in keys if k not in used]
    sub = 100.0 * (len(keys) - len(missing)) / len(keys)
    reason = f"{len(keys) - len(missing)} of {len(keys)} key features used in 30 days"
    if missing:
        reason += " (unused: " + ", ".join(event_noun(m) for m in missing[:3])
        reason += ", …)" if len(missing) > 3 else ")"
    chip = f"{len(keys) - len(missing)}/{len(keys)} features" if sub < 50 else ""
    return Component("adoption", sub, reason, chip)


def _people(inputs: AccountInputs, ctx: BookContext, today: date, rules: ScoringRules) -> Component:
    # With analytics synced, an admin never seen in the product is a finding, not missing data.
    known_activity = (
        ctx.has_usage or bool(inputs.product_users) or any(p.last_active for p in inputs.people)
    )
    # (score, person, days inactive or None: never seen); words only for the worst, below.
    scored: list[tuple[float, Person, int | None]] = []
    for person in inputs.people:
        if person.role not in ("admin", "champion"):
            continue
        if person.last_active is None:
            if not known_activity:
                continue
            scored.append((0.0, person, None))
            continue
        inactive = max(0, (today - person.last_active).days)
        score = _linear(inactive, rules.people_active_days, rules.people_inactive_days)
        scored.append((score, person, inactive))
    power = [u for u in inputs.product_users if u.events_30d > 0]
    # Most active first (ties by email); the store gives them so already, which is checked
    # (strictly fewer events each) before sorting.
    for i in range(1, len(power)):
        if power[i].events_30d >= power[i - 1].events_30d:
            power.sort(key=_activity_order)
            break
    del power[rules.power_users :]
    parts: list[float] = []
    key_score = power_score = None
    if scored:
        key_score = sum(s for s, _, _ in scored) / len(scored)
        parts.append(key_score)
    quiet = []
    if power:
        for u in power:
            days = None if u.last_seen is None else max(0, (today - u.last_seen).days)
            if days is None or days > rules.power_user_quiet_days:
                quiet.append(u)
        power_score = 100.0 * (len(power) - len(quiet)) / len(power)
        parts.append(power_score)
    if not parts:
        return Component("people", None, "no admin, champion or product user activity yet")
    sub = sum(parts) / len(parts)
    key_loss = 100 - key_score if key_score is not None else 0
    power_loss = 100 - power_score if power_score is not None else 0
    if key_loss <= 0 and power_loss <= 0:
        if scored:
            reason = f"{len(scored)} admins/champions active this week"
            if len(scored) == 1:
                reason = "Admin/champion active this week"
        else:
            reason = f"{len(power)} power users active"
        return Component("people", sub, reason)
    if key_loss >= power_loss:
        _, person, days = min(scored, key=lambda s: s[0])
        who = f"{person.role.capitalize()} {_plain(person.email) or '(no email)'}"
        if days is None:
            text, chip = f"{who} never seen in the product", f"{who} never active"
        else:
            text, chip = f"{who} inactive {days} days", f"{who} quiet {days} d"
        others = sum(1 for s in scored if s[0] < 100) - 1
        reason = text + (f" (+{others} more)" if others > 0 else "")
        return Component("people", sub, reason, chip)
    reason = f"{len(quiet)} of {len(power)} power users quiet {rules.power_user_quiet_days}+ days"
    return Component("people", sub, reason, f"{len(quiet)} power users quiet")


def _activity_order(user: ProductUser) -> tuple[int, str]:
    return -user.events_30d, user.email


def _relationship(
    inputs: AccountInputs, ctx: BookContext, today: date, rules: ScoringRules
) -> Component:
    if not ctx.has_touches and not inputs.touches:
        return Component("relationship", None, "no touches synced yet")
    cadence = max(1, ctx.cadence_days)
    last = None
    for t in inputs.touches:
        # A touch that went badly is no relationship credit (it lowers sentiment instead): a
        # negative call never raises health.
        if t.sentiment == "negative":
            continue
        if t.occurred <= today and (last is None or t.occurred > last):
            last = t.occurred
    overdue = [
        s
        for s in inputs.next_steps
        if s.due is not None and s.due < today and (s.created is None or s.created <= today)
    ]
    if last is None:
        base = 0.0
        went_badly = any(t.sentiment == "negative" and t.occurred <= today for t in inputs.touches)
        reason = "Only negative touches on record" if went_badly else "No touch on record"
    else:
        days = (today - last).days
        base = _linear(days, cadence, 2 * cadence)
        reason = f"Last touch {_ago(today, last)} (cadence {cadence} days)"
    sub = max(0.0, base - rules.overdue_step_penalty * len(overdue))
    chip = ""
    if overdue:
        worst = min(overdue, key=lambda s: s.due or today)
        late = (today - (worst.due or today)).days
        n = len(overdue)
        what = "next step" if n == 1 else "next steps"
        reason += f"; {n} {what} overdue (“{_short(_plain(worst.title))}”, {late} d late)"
        chip = f"Step overdue {late} d" if n == 1 else f"{n} steps overdue"
    return Component("relationship", sub, reason, chip)


# An account without tickets (most of them), with tickets synced or not.
_NO_TICKETS = Component("support", 100.0, "No aged or escalated tickets")
_NO_TICKETS_SYNCED = Component("support", None, "no tickets synced yet")


def _support(
    inputs: AccountInputs, ctx: BookContext, today: date, rules: ScoringRules
) -> Component:
    if not inputs.tickets:
        return _NO_TICKETS if ctx.has_tickets else _NO_TICKETS_SYNCED
    escalated = aged = low_csat = 0
    unknown = False  # an open ticket whose escalation the CRM does not say: no data, no penalty
    for t in inputs.tickets:
        if t.open_on(today):
            if t.escalation:
                escalated += 1
            elif (today - t.created).days > rules.ticket_open_days:
                aged += 1
            unknown = unknown or t.escalated is None
        when = t.closed or t.created
        if t.csat is not None and t.csat <= 2 and when <= today and (today - when).days <= 30:
            low_csat += 1
    penalty = (
        escalated * rules.ticket_escalated_penalty
        + aged * rules.ticket_open_penalty
        + low_csat * rules.ticket_low_csat_penalty
    )
    sub = max(0.0, 100.0 - penalty)
    bits = []
    if escalated:
        bits.append(f"{escalated} escalated/urgent ticket{'s' if escalated > 1 else ''} open")
    if aged:
        bits.append(f"{aged} ticket{'s' if aged > 1 else ''} open > {rules.ticket_open_days} days")
    if low_csat:
        bits.append(f"{low_csat} ticket CSAT ≤ 2 in 30 days")
    if not bits:
        if unknown:  # say only what is known
            return Component("support", sub, "No aged or urgent tickets (escalation not known)")
        return Component("support", sub, "No aged or escalated tickets")
    chip = bits[0].replace(" open", "").replace("escalated/urgent", "escalated")
    return Component("support", sub, _cap("; ".join(bits)), chip)


_FEELINGS = {"positive": 100.0, "neutral": 60.0}  # the last touch's feeling as a signal (else 0)


def _sentiment(
    inputs: AccountInputs, ctx: BookContext, today: date, rules: ScoringRules
) -> Component:
    # The latest NPS and CSAT answers (a day's highest score first), not too old.
    latest_nps: tuple[date, int] | None = None
    latest_csat: tuple[date, int] | None = None
    for survey in inputs.surveys:
        if survey.submitted > today or (today - survey.submitted).days > rules.nps_max_age_days:
            continue
        answer = (survey.submitted, survey.score)
        if survey.kind == "nps":
            if latest_nps is None or answer > latest_nps:
                latest_nps = answer
        elif survey.kind == "csat" and (latest_csat is None or answer > latest_csat):
            latest_csat = answer
    nps = None if latest_nps is None else (latest_nps[1], latest_nps[0])
    csat = None if latest_csat is None else (latest_csat[1], latest_csat[0])

    signals: list[tuple[float, float]] = []  # (weight, score)
    texts: list[str] = []
    chip = ""
    if nps is not None:
        score, when = nps
        if score >= 9:
            value, kind = 100.0, "promoter"
        elif score >= 7:
            value, kind = 60.0, "passive"
        else:
            value, kind = 0.0, "detractor"
            chip = f"NPS {score} detractor"
        signals.append((0.5, value))
        texts.append(f"NPS {score} ({kind}, {_ago(today, when)})")
    else:
        texts.append("no NPS yet")
    if csat is not None:
        score, when = csat
        value = _linear(min(5, max(1, score)), 5, 1)
        signals.append((0.25, value))
        texts.append(f"CSAT {score}/5 ({_ago(today, when)})")
        if score <= 2 and not chip:
            chip = f"CSAT {score}/5"
    # The latest touch that recorded a feeling counts however old it is: letting a bad one
    # expire would make an account look better for being left alone.
    felt = [t for t in inputs.touches if t.sentiment and t.occurred <= today]
    if felt:
        last = max(felt, key=lambda t: t.occurred)
        value = _FEELINGS.get(last.sentiment or "", 0.0)
        signals.append((0.25, value))
        texts.append(f"last touch {last.sentiment} ({_ago(today, last.occurred)})")
        if last.sentiment == "negative" and not chip:
            chip = "Negative last touch"
    if not signals:
        return Component("sentiment", None, "no NPS yet")
    total = sum(w for w, _ in signals)
    sub = sum(w * v for w, v in signals) / total
    reason = "; ".join(texts)
    return Component("sentiment", sub, reason[0].upper() + reason[1:], chip)


def signed(n: int) -> str:
    """An integer with its sign, using a true minus ("−12", "+8")."""
    return f"−{-n}" if n < 0 else f"+{n}"


def _ago(today: date, when: date) -> str:
    days = (today - when).days
    return "today" if days == 0 else "1 day ago" if days == 1 else f"{days} days ago"


_SUFFIXES = {1: "st", 2: "nd", 3: "rd"}


def _ordinal(value: float) -> str:
    n = round(value)
    suffix = "th" if 10 <= n % 100 <= 20 else _SUFFIXES.get(n % 10, "th")
    return f"{n}{suffix}"


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# -- the score -------------------------------------------------------------------------------


def largest_remainder(
    values: Mapping[str, float], total: int, caps: Mapping[str, int]
) -> dict[str, int]:
    """Integers close to ``values`` that add up to ``total``, none above its cap."""
    floor, cap_of = math.floor, caps.get  # (10,000 calls per rescore)
    floors: dict[str, int] = {}
    for k, v in values.items():
        whole, cap = floor(v + 1e-9), cap_of(k, total)
        floors[k] = whole if whole <= cap else cap
    left = total - sum(floors.values())
    if left == 0:  # the usual case: nothing to hand out or take back
        return floors
    order = sorted(values, key=lambda k: (-(values[k] - floors[k]), k))
    while left > 0:
        moved = False
        for k in order:
            if left <= 0:
                break
            if floors[k] < caps.get(k, total):
                floors[k] += 1
                left -= 1
                moved = True
        if not moved:
            break
    while left < 0:  # only reachable through float noise: take from the smallest remainders
        for k in reversed(order):
            if left >= 0:
                break
            if floors[k] > 0:
                floors[k] -= 1
                left += 1
    return floors


@dataclass(frozen=True, slots=True)
class _Shares:
    """How 100 points are shared when the components at ``present`` (indexes in COMPONENTS)
    have data: the same for every account with the same components, so computed once."""

    present: tuple[int, ...]
    names: tuple[str, ...]  # of the present components
    exact: dict[str, float]  # exact share of 100 of each present component
    exact_list: tuple[float, ...]  # the same, in the order of ``names``
    whole: dict[str, int]  # integer share of each (largest remainder)


@lru_cache(maxsize=256)
def _shares(weights: tuple[float, ...], present: tuple[int, ...]) -> _Shares:
    total_weight = sum(weights[i] for i in present)
    names = tuple(COMPONENTS[i] for i in present)
    exact = {COMPONENTS[i]: 100.0 * weights[i] / total_weight for i in present}
    return _Shares(present, names, exact, tuple(exact.values()), largest_remainder(exact, 100, {}))


_WEIGHTS: dict[int, tuple[Mapping[str, float], tuple[float, ...]]] = {}


def _weights(rules: ScoringRules) -> tuple[float, ...]:
    """Each component's weight, in the order of COMPONENTS (kept per weights mapping: the rules
    are frozen, and a rescore asks 10,000 times)."""
    found = _WEIGHTS.get(id(rules.weights))
    if found is None or found[0] is not rules.weights:
        found = (rules.weights, tuple(float(rules.weights.get(c, 0.0)) for c in COMPONENTS))
        if len(_WEIGHTS) > 64:
            _WEIGHTS.clear()
        _WEIGHTS[id(rules.weights)] = found
    return found[1]


def health(
    inputs: AccountInputs, ctx: BookContext, today: date, rules: ScoringRules | None = None
) -> Health:
    """The account's health score as of ``today``, with its drivers."""
    rules = rules or ScoringRules()
    recent = _recent_of(inputs, today, rules)
    usage, facts = _usage(inputs, recent, ctx, today, rules)
    components = (  # in the order of COMPONENTS
        usage,
        _adoption(ctx, rules, recent.features),
        _people(inputs, ctx, today, rules),
        _relationship(inputs, ctx, today, rules),
        _support(inputs, ctx, today, rules),
        _sentiment(inputs, ctx, today, rules),
    )
    weights = _weights(rules)
    present = tuple(
        [i for i, c in enumerate(components) if c.subscore is not None and weights[i] > 0]
    )
    if not present:  # no weight left to share
        drivers = tuple(
            Driver(c.name, 0, 0, c.reason + " (left out)")
            for i, c in enumerate(components)
            if weights[i]
        )
        return Health(None, None, None, components, drivers, {}, facts)
    shares = _shares(weights, present)
    earned = {}
    for name, share, i in zip(shares.names, shares.exact_list, present, strict=True):
        earned[name] = share * (components[i].subscore or 0.0) / 100
    exact = sum(earned.values())
    score = min(100, max(0, math.floor(exact + 0.5)))
    points = largest_remainder(earned, score, shares.whole)
    ranked: list[Driver] = []
    for i, c in enumerate(components):
        if c.name in earned:
            ranked.append(Driver(c.name, points[c.name], shares.whole[c.name], c.reason))
        elif weights[i] > 0:
            ranked.append(Driver(c.name, 0, 0, f"{c.reason} (weight shared by the rest)"))
    return Health(
        score, exact, band_of(score, rules), components, tuple(ranked), dict(shares.exact), facts
    )


def with_usage_cause(
    h: Health,
    inputs: AccountInputs,
    ctx: BookContext,
    today: date,
    rules: ScoringRules | None = None,
) -> Health:
    """``h`` with the usage reason naming the event that fell (``inputs.event_windows``).

    The windows change words, never points, so only the usage component is looked at again.
    """
    rules = rules or ScoringRules()
    usage, _ = _usage(inputs, _recent_of(inputs, today, rules), ctx, today, rules)
    components = tuple(usage if c.name == "usage" else c for c in h.components)
    drivers = tuple(
        replace(d, reason=usage.reason) if d.component == "usage" and d.max > 0 else d
        for d in h.drivers
    )
    return replace(h, components=components, drivers=drivers)


def driver_text(driver: Driver) -> str:
    """A driver as one line: gains show what was earned, losses what was lost ("−9 Admin …")."""
    if driver.max == 0:
        return f"  · {driver.reason}"
    lost = driver.max - driver.points
    if lost > driver.points:
        return f"−{lost} {driver.reason}"
    return f"+{driver.points} {driver.reason}"
