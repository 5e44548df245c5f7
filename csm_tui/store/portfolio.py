"""The portfolio report: the book's metrics over a period and its cohorts, read from the cache.

Four set-based queries (accounts, ARR history, survey answers, scores) load everything; the
formulas are the pure functions of ``csm_tui.domain.metrics`` and ``csm_tui.domain.cohorts``.
Archived accounts (and their history, answers and scores) are left out.

Period-bound: NRR, GRR, logo and revenue churn, NPS, CSAT. Snapshots as of ``today``: average
health, bands and ARR at risk (accounts that are customers today), and the cohorts (contract
months of the last ``COHORT_MONTHS`` months, up to today).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlite_utils

from csm_tui.config import Settings
from csm_tui.domain.cohorts import CohortMatrix, contract_cohorts, month_index
from csm_tui.domain.metrics import (
    BANDS,
    AccountArr,
    RiskInput,
    arr_at_risk,
    band_of,
    csat,
    health_summary,
    net_promoter_score,
    period_bounds,
    revenue_movements,
)
from csm_tui.store.dates import cache_day

# Two years of monthly cohorts: annual contracts churn at renewal, so a year would show no loss.
COHORT_MONTHS = 24


@dataclass(frozen=True, slots=True)
class PortfolioReport:
    """The book's metrics over a period (ratios 0..1 or None; NPS -100..+100)."""

    period: str
    period_start: date
    period_end: date
    today: date
    accounts: int  # accounts in the cache, archived ones excluded (churned included)
    customers: int  # of which customers today (not churned, not starting later)
    accounts_at_start: int
    accounts_lost: int
    new_accounts: int
    starting_arr: float
    expansion_arr: float
    contraction_arr: float
    churned_arr: float
    new_arr: float
    nrr: float | None
    grr: float | None
    logo_churn: float | None
    revenue_churn: float | None
    nps: float | None
    nps_responses: int
    csat: float | None
    csat_responses: int
    avg_health: float | None
    scored_accounts: int
    bands: dict[str, float | None]
    band_counts: dict[str, int]
    arr_at_risk: float | None
    arr_at_risk_accounts: int
    cohorts_logo: CohortMatrix = field(default_factory=CohortMatrix)
    cohorts_revenue: CohortMatrix = field(default_factory=CohortMatrix)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data: dates as ISO days, cohorts as lists of rows with a cohort label."""
        return {
            "period": self.period,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "today": self.today.isoformat(),
            "accounts": self.accounts,
            "customers": self.customers,
            "accounts_at_start": self.accounts_at_start,
            "accounts_lost": self.accounts_lost,
            "new_accounts": self.new_accounts,
            "starting_arr": self.starting_arr,
            "expansion_arr": self.expansion_arr,
            "contraction_arr": self.contraction_arr,
            "churned_arr": self.churned_arr,
            "new_arr": self.new_arr,
            "nrr": self.nrr,
            "grr": self.grr,
            "logo_churn": self.logo_churn,
            "revenue_churn": self.revenue_churn,
            "nps": self.nps,
            "nps_responses": self.nps_responses,
            "csat": self.csat,
            "csat_responses": self.csat_responses,
            "avg_health": self.avg_health,
            "scored_accounts": self.scored_accounts,
            "bands": dict(self.bands),
            "band_counts": dict(self.band_counts),
            "arr_at_risk": self.arr_at_risk,
            "arr_at_risk_accounts": self.arr_at_risk_accounts,
            "cohorts": {
                "logo": self.cohorts_logo.to_json(),
                "revenue": self.cohorts_revenue.to_json(),
            },
        }


def load_account_arr(db: sqlite_utils.Database) -> list[AccountArr]:
    """Every non-archived account with its contract dates and ARR history (two queries)."""
    history: dict[str, list[tuple[date, float]]] = defaultdict(list)
    for account_id, day, arr in db.execute(
        "SELECT h.account_id, h.date, h.arr FROM arr_history h "
        "JOIN accounts a ON a.id = h.account_id WHERE a.archived = 0 "
        "ORDER BY h.account_id, h.date"
    ):
        parsed = cache_day(day)
        if parsed is not None and arr is not None:
            history[account_id].append((parsed, float(arr)))
    accounts: list[AccountArr] = []
    for account_id, arr, contract_start, churned_on in db.execute(
        "SELECT id, arr, contract_start, churned_on FROM accounts WHERE archived = 0"
    ):
        rows = history.get(account_id, [])
        rows.sort()  # dates may mix days and instants: sort the parsed days
        accounts.append(
            AccountArr(
                account_id=account_id,
                contract_start=cache_day(contract_start),
                churned_on=cache_day(churned_on),
                history=tuple(rows),
                current_arr=None if arr is None else float(arr),
            )
        )
    return accounts


def _survey_scores(db: sqlite_utils.Database, start: date, end: date) -> dict[str, list[int]]:
    """NPS and CSAT answers submitted in ``[start, end]`` by the book's accounts."""
    scores: dict[str, list[int]] = {"nps": [], "csat": []}
    for kind, score in db.execute(
        "SELECT lower(s.kind), s.score FROM survey_responses s "
        "JOIN accounts a ON a.id = s.account_id "
        "WHERE a.archived = 0 AND s.archived = 0 AND lower(s.kind) IN ('nps', 'csat') "
        "AND s.submitted_at >= ? AND s.submitted_at < ?",
        # ISO days and instants both sort as text: [start, end + 1 day) covers both.
        (start.isoformat(), (end + timedelta(days=1)).isoformat()),
    ):
        if score is not None:
            scores[kind].append(int(score))
    return scores


def portfolio_report(
    db: sqlite_utils.Database,
    settings: Settings,
    today: date,
    period: str = "90d",
    *,
    cohort_months: int = COHORT_MONTHS,
) -> PortfolioReport:
    """Compute the book's portfolio report for ``period`` ("90d", "quarter", "year") as of today.

    The cohorts are the contract months of the last ``cohort_months`` months, this one included.
    """
    start, end = period_bounds(period, today)
    accounts = load_account_arr(db)
    by_id = {account.account_id: account for account in accounts}
    movements = revenue_movements(accounts, start, end)
    surveys = _survey_scores(db, start, end)

    green, yellow = settings.scoring.green, settings.scoring.yellow
    healths: list[float] = []
    risks: list[RiskInput] = []
    for account_id, health, arr, renewal in db.execute(
        "SELECT s.account_id, s.health, a.arr, a.renewal_date FROM scores s "
        "JOIN accounts a ON a.id = s.account_id "
        "WHERE a.archived = 0 AND s.health IS NOT NULL"
    ):
        account = by_id[account_id]
        if not account.live_on(today):
            continue  # a churned account's last score would skew today's bands
        healths.append(float(health))
        risks.append(
            RiskInput(
                band=band_of(health, green, yellow),
                renewal_date=cache_day(renewal),
                arr=float(arr) if arr is not None else account.arr_on(today),
            )
        )
    health = health_summary(healths, green, yellow)
    at_risk, at_risk_count = arr_at_risk(risks, today)

    first_cohort = month_index(today) - (max(cohort_months, 1) - 1)
    since = date(first_cohort // 12, first_cohort % 12 + 1, 1)
    logo, revenue = contract_cohorts(accounts, today, since=since)

    return PortfolioReport(
        period=period,
        period_start=start,
        period_end=end,
        today=today,
        accounts=len(accounts),
        customers=sum(1 for account in accounts if account.live_on(today)),
        accounts_at_start=movements.accounts_at_start,
        accounts_lost=movements.accounts_lost,
        new_accounts=movements.new_accounts,
        starting_arr=movements.starting_arr,
        expansion_arr=movements.expansion,
        contraction_arr=movements.contraction,
        churned_arr=movements.churned,
        new_arr=movements.new_business,
        nrr=movements.nrr,
        grr=movements.grr,
        logo_churn=movements.logo_churn,
        revenue_churn=movements.revenue_churn,
        nps=net_promoter_score(surveys["nps"]),
        nps_responses=sum(1 for s in surveys["nps"] if 0 <= s <= 10),
        csat=csat(surveys["csat"]),
        csat_responses=sum(1 for s in surveys["csat"] if 1 <= s <= 5),
        avg_health=health.average,
        scored_accounts=health.scored,
        bands={band: health.shares[band] for band in BANDS},
        band_counts={band: health.counts[band] for band in BANDS},
        arr_at_risk=at_risk,
        arr_at_risk_accounts=at_risk_count,
        cohorts_logo=logo,
        cohorts_revenue=revenue,
    )
