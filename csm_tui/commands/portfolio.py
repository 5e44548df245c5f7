"""`csm-tui portfolio`: the book's retention, churn, surveys, health bands and cohorts."""

from __future__ import annotations

import argparse
import json
from datetime import date

from csm_tui.commands.cohorts import matrix_lines
from csm_tui.config import Settings
from csm_tui.domain.vocabulary import BAND_SYMBOLS
from csm_tui.errors import CsmError
from csm_tui.store.db import open_cache
from csm_tui.store.portfolio import PortfolioReport, portfolio_report

PERIOD_TITLES = {
    "90d": "last 90 days",
    "quarter": "last full quarter",
    "year": "last 365 days",
}
NA = "n/a"


class EmptyCacheError(CsmError):
    """There is nothing to report on yet."""


def pct(value: float | None) -> str:
    """A ratio as a percentage with one decimal, or n/a."""
    return NA if value is None else f"{value * 100:.1f}%"


def amount(value: float | None) -> str:
    """An ARR amount with thousands separators, or n/a."""
    return NA if value is None else f"{value:,.0f}"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def report_lines(report: PortfolioReport, workspace: str) -> list[str]:
    """The report as plain text lines."""
    title = PERIOD_TITLES.get(report.period, report.period)
    lines = [
        f"Portfolio of workspace {workspace!r}: {report.period_start} to {report.period_end} "
        f"({title}); {report.customers:,} customers today, {report.accounts:,} accounts cached",
        "",
        f"  NRR            {pct(report.nrr):>11}",
        f"  GRR            {pct(report.grr):>11}",
        f"  Logo churn     {pct(report.logo_churn):>11}   {report.accounts_lost:,} of "
        f"{_count(report.accounts_at_start, 'account')} at the start",
        f"  Revenue churn  {pct(report.revenue_churn):>11}",
        f"  NPS            {NA if report.nps is None else f'{report.nps:+.0f}':>11}   "
        f"{_count(report.nps_responses, 'answer')}",
        f"  CSAT           {pct(report.csat):>11}   {_count(report.csat_responses, 'answer')}",
        "",
        f"  Starting ARR   {amount(report.starting_arr):>11}   +{amount(report.expansion_arr)} "
        f"expansion, -{amount(report.contraction_arr)} contraction, "
        f"-{amount(report.churned_arr)} churned",
        f"  New business   {amount(report.new_arr):>11}   "
        f"{_count(report.new_accounts, 'account')} started in the period (outside the base)",
        "",
        f"  Avg health     {NA if report.avg_health is None else f'{report.avg_health:.0f}':>11}   "
        f"{_count(report.scored_accounts, 'scored customer')} today",
        "  Bands          "
        + "  ".join(
            f"{BAND_SYMBOLS[band]} {band} {pct(share)} ({report.band_counts[band]:,})"
            for band, share in report.bands.items()
        ),
        f"  ARR at risk    {amount(report.arr_at_risk):>11}   "
        f"{_count(report.arr_at_risk_accounts, 'red account')} renewing within 90 days",
    ]
    # The revenue cohorts are capped at each cohort's starting ARR (expansion not counted).
    cohorts = (("Logo", report.cohorts_logo), ("Gross revenue", report.cohorts_revenue))
    for name, matrix in cohorts:
        lines.append("")
        lines.append(
            f"{name} retention by month of contract start (M0 = 100%; blank = not reached yet)"
        )
        lines.extend(matrix_lines(matrix) if matrix.rows else ["  no contract started lately"])
    return lines


def run(settings: Settings, args: argparse.Namespace, today: date | None = None) -> int:
    """Print the report (plain text, or JSON with --json); ``today`` defaults to the local day."""
    hint = (
        f"No accounts in the cache of workspace {settings.workspace!r}: run `csm-tui sync`, "
        "or `csm-tui demo` and then `csm-tui portfolio --workspace demo`."
    )
    if not settings.cache_path.exists():
        raise EmptyCacheError(hint)
    db = open_cache(settings.cache_path, create=False)
    try:
        report = portfolio_report(db, settings, today or date.today(), period=args.period)
    finally:
        db.conn.close()
    if report.accounts == 0:
        raise EmptyCacheError(hint)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print("\n".join(report_lines(report, settings.workspace)))
    return 0
