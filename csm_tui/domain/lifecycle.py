"""Lifecycle stage: the first rule that holds, each with its reason (docs/ARCHITECTURE.md).

Win-back > Renewal > Onboarding > Expansion > Adoption > Retention; the CRM's cs_stage overrides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from csm_tui.domain.models import GREEN, STAGES, Account, ScoringRules, plain

RENEWAL_WINDOW_DAYS = 90
ONBOARDING_DAYS = 90

_ALIASES = {s.lower().replace("-", "").replace(" ", "").replace("_", ""): s for s in STAGES}


@dataclass(frozen=True, slots=True)
class Stage:
    """A lifecycle stage and why."""

    name: str
    reason: str


def stage_from_crm(value: str | None) -> str | None:
    """The stage the CRM's cs_stage names (known stages in their usual spelling), or None."""
    if not value:  # the usual case, without plain()'s regular expressions
        return None
    text = plain(value)
    if not text:
        return None
    return _ALIASES.get(text.lower().replace("-", "").replace(" ", "").replace("_", ""), text)


def expansion_signal(
    account: Account,
    *,
    seats_used: int | None,
    usage_ratio: float | None,
    band: str | None,
    rules: ScoringRules,
    today: date | None = None,
) -> str | None:
    """Why the account is ready to grow (seats nearly full or usage up, and health green).

    Usage growth in the first 90 days of a contract is a ramp-up, not a sign to sell more.
    """
    if band != GREEN:
        return None
    if (
        today is not None
        and account.contract_start is not None
        and (today - account.contract_start).days <= ONBOARDING_DAYS
    ):
        usage_ratio = None
    if account.seats and seats_used is not None:
        share = seats_used / account.seats
        if share >= rules.expansion_seat_share:
            return f"{seats_used} of {account.seats} seats in use ({round(share * 100)}%)"
    if usage_ratio is not None and usage_ratio >= rules.expansion_growth_ratio:
        weeks = rules.trend_recent_weeks
        base = rules.trend_baseline_weeks
        return f"usage up {round((usage_ratio - 1) * 100)}% over {weeks} weeks vs prior {base}"
    return None


def expansion_strength(
    account: Account,
    *,
    seats_used: int | None,
    usage_ratio: float | None,
    arr_share: float,
    today: date | None = None,
) -> int:
    """How ready an expansion-ready account is to grow, 1-100, to rank opportunities among
    themselves (the attention priority ranks risk, which puts the weakest opportunity first).

    0.40 seats in use (a full contract, or over it: 1) + 0.35 usage growth (doubled: 1)
    + 0.25 the account's ARR percentile in the book: a full, growing, large account first.
    Growth in the first 90 days of a contract is ramp-up and counts for nothing, as in
    ``expansion_signal``.
    """
    seats = 0.0
    if account.seats and seats_used is not None:
        seats = min(1.0, seats_used / account.seats)
    if (
        today is not None
        and account.contract_start is not None
        and (today - account.contract_start).days <= ONBOARDING_DAYS
    ):
        usage_ratio = None
    growth = 0.0 if usage_ratio is None else min(1.0, max(0.0, usage_ratio - 1.0))
    share = min(1.0, max(0.0, arr_share))
    return 1 + round(99 * (0.40 * seats + 0.35 * growth + 0.25 * share))


def lifecycle_stage(
    account: Account,
    today: date,
    *,
    activated: bool,
    features_used: int,
    seats_used: int | None,
    usage_ratio: float | None,
    band: str | None,
    health: int | None,
    rules: ScoringRules | None = None,
) -> Stage:
    """The account's stage as of ``today``: the first rule that holds."""
    rules = rules or ScoringRules()
    crm = stage_from_crm(account.cs_stage)
    if crm:
        return Stage(crm, "set in the CRM (cs_stage)")
    if account.churned_on is not None and account.churned_on <= today:
        return Stage("Win-back", f"churned on {account.churned_on.isoformat()}")
    if account.renewal_lost_on is not None and account.renewal_lost_on <= today:
        return Stage("Win-back", f"renewal lost on {account.renewal_lost_on.isoformat()}")
    if account.renewal_date is not None:
        days = (account.renewal_date - today).days
        if 0 <= days <= RENEWAL_WINDOW_DAYS:
            when = "today" if days == 0 else "tomorrow" if days == 1 else f"in {days} days"
            return Stage("Renewal", f"renews {when}")
    if account.contract_start is not None and not activated:
        started = (today - account.contract_start).days
        if 0 <= started <= ONBOARDING_DAYS:
            event = rules.activation_event.replace("_", " ")
            return Stage("Onboarding", f"started {started} days ago, no {event} yet")
    signal = expansion_signal(
        account,
        seats_used=seats_used,
        usage_ratio=usage_ratio,
        band=band,
        rules=rules,
        today=today,
    )
    if signal:
        return Stage("Expansion", f"{signal}, health {health}")
    total = len(rules.key_features)
    if total and features_used * 2 < total:
        return Stage("Adoption", f"{features_used} of {total} key features used in 30 days")
    if account.renewal_date is not None and account.renewal_date > today:
        days = (account.renewal_date - today).days
        return Stage("Retention", f"adopted; renews in {days} days")
    return Stage("Retention", "adopted; no renewal within 90 days")
