"""Portfolio metrics over a period (docs/ARCHITECTURE.md): retention, churn, surveys, health.

Pure functions over plain data: the store loads the inputs, ``today`` is always passed in.
Every ratio is a float (0..1, NRR may exceed 1; NPS is -100..+100) or ``None`` when it cannot be
computed (no accounts, zero starting ARR, no answers): shown as "n/a", never a division by zero.

A period is the days ``[start, end]``, both included. The state "at the start" is the state as the
period opens (before anything that happened on ``start``): so an account whose contract starts on
``start`` is new business, and one that churns on ``start`` is lost within the period.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

GREEN, YELLOW, RED = "green", "yellow", "red"
BANDS = (GREEN, YELLOW, RED)
PERIODS = ("90d", "quarter", "year")
RISK_HORIZON_DAYS = 90


# -- periods ---------------------------------------------------------------------------------


def quarter_start(day: date) -> date:
    """The first day of ``day``'s calendar quarter."""
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def period_bounds(period: str, today: date) -> tuple[date, date]:
    """The days ``(start, end)`` (both included) a period name covers, seen from ``today``.

    "90d" is the 90 days ending today, "year" the 365 days ending today, and "quarter" the last
    *full* calendar quarter (a quarter to date would be a few days long at a quarter's start, and
    its NRR would change every morning; a closed quarter is the number a team reports).
    """
    if period == "90d":
        return today - timedelta(days=89), today
    if period == "year":
        return today - timedelta(days=364), today
    if period == "quarter":
        end = quarter_start(today) - timedelta(days=1)
        return quarter_start(end), end
    raise ValueError(f"unknown period {period!r} (choose one of {', '.join(PERIODS)})")


# -- ratios ----------------------------------------------------------------------------------


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def net_revenue_retention(
    starting: float, expansion: float, contraction: float, churned: float
) -> float | None:
    """NRR = (starting ARR + expansion - contraction - churned ARR) / starting ARR."""
    return _ratio(starting + expansion - contraction - churned, starting)


def gross_revenue_retention(starting: float, contraction: float, churned: float) -> float | None:
    """GRR = (starting ARR - contraction - churned ARR) / starting ARR, never above 1."""
    value = _ratio(starting - contraction - churned, starting)
    # Expansion never counts in GRR; the cap also guards against netted (negative) inputs.
    return None if value is None else min(1.0, value)


def logo_churn(accounts_lost: int, accounts_at_start: int) -> float | None:
    """Logo churn = accounts lost / accounts at start."""
    return _ratio(accounts_lost, accounts_at_start)


def revenue_churn(starting: float, contraction: float, churned: float) -> float | None:
    """Revenue churn = (churned + contraction ARR) / starting ARR."""
    return _ratio(churned + contraction, starting)


def net_promoter_score(scores: Iterable[int]) -> float | None:
    """NPS = % promoters (9-10) - % detractors (0-6), -100..+100; answers outside 0..10 ignored."""
    valid = [s for s in scores if 0 <= s <= 10]
    if not valid:
        return None
    promoters = sum(1 for s in valid if s >= 9)
    detractors = sum(1 for s in valid if s <= 6)
    return 100.0 * (promoters - detractors) / len(valid)


def csat(scores: Iterable[int]) -> float | None:
    """CSAT = share of 4-5 answers among answers on 1..5 (others ignored)."""
    valid = [s for s in scores if 1 <= s <= 5]
    if not valid:
        return None
    return sum(1 for s in valid if s >= 4) / len(valid)


# -- health ----------------------------------------------------------------------------------


def band_of(health: float, green: int = 70, yellow: int = 40) -> str:
    """The band of a health score: green >= ``green``, yellow >= ``yellow``, red below."""
    if health >= green:
        return GREEN
    if health >= yellow:
        return YELLOW
    return RED


@dataclass(frozen=True, slots=True)
class HealthSummary:
    """Average health and how the scored accounts split between the bands."""

    scored: int
    average: float | None
    counts: dict[str, int]
    shares: dict[str, float | None]


def health_summary(healths: Iterable[float], green: int = 70, yellow: int = 40) -> HealthSummary:
    """Average health and the share in each band (all ``None`` when nothing is scored)."""
    values = list(healths)
    counts = dict.fromkeys(BANDS, 0)
    for value in values:
        counts[band_of(value, green, yellow)] += 1
    n = len(values)
    return HealthSummary(
        scored=n,
        average=sum(values) / n if n else None,
        counts=counts,
        shares={band: _ratio(counts[band], n) for band in BANDS},
    )


@dataclass(frozen=True, slots=True)
class RiskInput:
    """What ARR at risk reads of one live, scored account."""

    band: str
    renewal_date: date | None
    arr: float | None


def arr_at_risk(
    accounts: Iterable[RiskInput], today: date, horizon_days: int = RISK_HORIZON_DAYS
) -> tuple[float | None, int]:
    """ARR of red accounts renewing within ``horizon_days`` of today, and how many there are.

    ``None`` when no account is given (nothing scored: the risk is unknown, not zero).
    """
    last = today + timedelta(days=horizon_days)
    total, count, seen = 0.0, 0, False
    for account in accounts:
        seen = True
        renewal = account.renewal_date
        if account.band == RED and renewal is not None and today <= renewal <= last:
            total += account.arr or 0.0
            count += 1
    return (total if seen else None), count


# -- revenue movements -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountArr:
    """One account's contract dates and ARR history (sorted ``(day, arr)`` rows)."""

    account_id: str
    contract_start: date | None
    churned_on: date | None = None
    history: tuple[tuple[date, float], ...] = ()
    current_arr: float | None = None
    _days: tuple[date, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_days", tuple(day for day, _ in self.history))

    @property
    def started(self) -> date | None:
        """The contract start, or (when the CRM has none) the first day ARR was recorded."""
        if self.contract_start is not None:
            return self.contract_start
        return self.history[0][0] if self.history else None

    def customer_on(self, day: date) -> bool:
        """True when the account is a customer at the end of ``day`` (started, not churned)."""
        started = self.started
        if started is None or started > day:
            return False
        return self.churned_on is None or self.churned_on > day

    def live_on(self, day: date) -> bool:
        """Not churned by ``day`` and not starting later (an unknown start counts as live)."""
        started = self.started
        if started is not None and started > day:
            return False
        return self.churned_on is None or self.churned_on > day

    def arr_on(self, day: date) -> float | None:
        """The ARR in force at the end of ``day``: the latest history row on or before it.

        When the history begins after ``day`` but the contract had started, the first recorded
        value stands in (the property was set later than the contract began); with no history at
        all, the account's current ARR does. ``None`` before the contract started.
        """
        i = bisect.bisect_right(self._days, day)
        if i:
            return self.history[i - 1][1]
        started = self.started
        if started is None or started > day:
            return None
        return self.history[0][1] if self.history else self.current_arr


@dataclass(frozen=True, slots=True)
class RevenueMovements:
    """How the book's ARR moved over a period, from the accounts that were customers at its start."""

    start: date
    end: date
    accounts_at_start: int = 0
    accounts_lost: int = 0
    starting_arr: float = 0.0
    expansion: float = 0.0
    contraction: float = 0.0
    churned: float = 0.0
    new_business: float = 0.0
    new_accounts: int = 0

    @property
    def nrr(self) -> float | None:
        """Net revenue retention over the period."""
        return net_revenue_retention(
            self.starting_arr, self.expansion, self.contraction, self.churned
        )

    @property
    def grr(self) -> float | None:
        """Gross revenue retention over the period (at most 1)."""
        return gross_revenue_retention(self.starting_arr, self.contraction, self.churned)

    @property
    def logo_churn(self) -> float | None:
        """Share of the starting accounts lost in the period."""
        return logo_churn(self.accounts_lost, self.accounts_at_start)

    @property
    def revenue_churn(self) -> float | None:
        """Share of the starting ARR lost to churn and contraction."""
        return revenue_churn(self.starting_arr, self.contraction, self.churned)


def revenue_movements(accounts: Iterable[AccountArr], start: date, end: date) -> RevenueMovements:
    """Starting ARR, expansion, contraction and churn over ``[start, end]``.

    The base is the accounts that were customers as the period opened; an account lost in the
    period counts its whole starting ARR as churned; accounts whose contract started inside the
    period are new business, outside the base (reported separately).
    """
    opening = start - timedelta(days=1)
    at_start = lost = new_accounts = 0
    starting = expansion = contraction = churned = new_business = 0.0
    for account in accounts:
        if account.customer_on(opening):
            at_start += 1
            base = account.arr_on(opening) or 0.0
            starting += base
            if account.churned_on is not None and account.churned_on <= end:
                lost += 1
                churned += base
                continue
            now = account.arr_on(end)
            delta = (base if now is None else now) - base
            if delta > 0:
                expansion += delta
            else:
                contraction -= delta
        elif (started := account.started) is not None and start <= started <= end:
            new_accounts += 1
            if account.customer_on(end):
                new_business += account.arr_on(end) or 0.0
    return RevenueMovements(
        start=start,
        end=end,
        accounts_at_start=at_start,
        accounts_lost=lost,
        starting_arr=starting,
        expansion=expansion,
        contraction=contraction,
        churned=churned,
        new_business=new_business,
        new_accounts=new_accounts,
    )
