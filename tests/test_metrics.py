"""Portfolio formulas against numbers computed by hand (the arithmetic is in the comments)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csm_tui.domain.metrics import (
    AccountArr,
    RiskInput,
    arr_at_risk,
    band_of,
    csat,
    gross_revenue_retention,
    health_summary,
    logo_churn,
    net_promoter_score,
    net_revenue_retention,
    period_bounds,
    revenue_churn,
    revenue_movements,
)

D = date.fromisoformat
TODAY = D("2026-11-23")


def test_the_four_retention_formulas_on_hand_numbers() -> None:
    # starting 1000, expansion 200, contraction 100, churned 50
    # NRR = (1000 + 200 - 100 - 50) / 1000 = 1050 / 1000 = 1.05
    # GRR = (1000 - 100 - 50) / 1000 = 850 / 1000 = 0.85
    # revenue churn = (50 + 100) / 1000 = 0.15
    assert net_revenue_retention(1000, 200, 100, 50) == pytest.approx(1.05)
    assert gross_revenue_retention(1000, 100, 50) == pytest.approx(0.85)
    assert revenue_churn(1000, 100, 50) == pytest.approx(0.15)
    # 3 accounts lost of 12 at the start = 0.25
    assert logo_churn(3, 12) == pytest.approx(0.25)


def test_nothing_to_divide_by_gives_none_not_an_error() -> None:
    assert net_revenue_retention(0, 100, 0, 0) is None
    assert gross_revenue_retention(0, 0, 0) is None
    assert revenue_churn(0, 0, 0) is None
    assert logo_churn(0, 0) is None
    assert net_promoter_score([]) is None
    assert csat([]) is None


def test_grr_is_never_above_100_percent() -> None:
    # A netted (negative) contraction would push GRR over 1: it is capped.
    assert gross_revenue_retention(1000, -200, 0) == 1.0
    # A book that only expanded: 1000 -> 1200. NRR = 1200 / 1000 = 1.2, GRR stays 1.0.
    book = [
        AccountArr("a", D("2025-01-01"), history=((D("2025-01-01"), 600.0),)),
        AccountArr(
            "b", D("2025-01-01"), history=((D("2025-01-01"), 400.0), (D("2026-10-01"), 600.0))
        ),
    ]
    moved = revenue_movements(book, D("2026-08-26"), TODAY)
    assert moved.starting_arr == 1000
    assert moved.expansion == 200
    assert moved.nrr == pytest.approx(1.2)
    assert moved.grr == 1.0


def test_nps_counts_promoters_minus_detractors() -> None:
    # 10, 9 promoters; 8, 7 passives; 6, 0 detractors: (2 - 2) / 6 = 0
    assert net_promoter_score([10, 9, 8, 7, 6, 0]) == 0
    # 10, 10, 9 promoters, 5 detractor: 100 * (3 - 1) / 4 = +50
    assert net_promoter_score([10, 10, 9, 5]) == pytest.approx(50.0)
    # all detractors: -100; answers outside 0..10 are ignored
    assert net_promoter_score([0, 3, 6, 11, -1]) == pytest.approx(-100.0)


def test_csat_is_the_share_of_4_and_5() -> None:
    # 5 and 4 of five answers: 2 / 5 = 0.4
    assert csat([5, 4, 3, 2, 1]) == pytest.approx(0.4)
    # 0 and 6 are not answers on 1..5
    assert csat([0, 6]) is None
    assert csat([4, 0]) == 1.0


def test_bands_use_the_thresholds_given() -> None:
    assert [band_of(h) for h in (70, 69, 40, 39, 100, 0)] == [
        "green",
        "yellow",
        "yellow",
        "red",
        "green",
        "red",
    ]
    assert band_of(75, green=80, yellow=50) == "yellow"
    assert band_of(45, green=80, yellow=50) == "red"


def test_health_summary_average_and_band_shares() -> None:
    # 80 green, 55 yellow, 30 and 35 red: average 200 / 4 = 50; shares 1/4, 1/4, 2/4
    summary = health_summary([80, 55, 30, 35])
    assert summary.average == 50
    assert summary.shares == {"green": 0.25, "yellow": 0.25, "red": 0.5}
    assert summary.counts == {"green": 1, "yellow": 1, "red": 2}
    empty = health_summary([])
    assert empty.average is None
    assert empty.shares == {"green": None, "yellow": None, "red": None}


def test_arr_at_risk_is_red_accounts_renewing_within_90_days() -> None:
    accounts = [
        RiskInput("red", D("2026-11-23"), 1000),  # renews today: in
        RiskInput("red", D("2027-02-21"), 2000),  # day 90: in
        RiskInput("red", D("2027-02-22"), 4000),  # day 91: out
        RiskInput("red", D("2026-11-22"), 8000),  # renewal already past: out
        RiskInput("red", None, 16000),  # no renewal date: out
        RiskInput("yellow", D("2026-12-01"), 32000),  # not red: out
    ]
    # 1000 + 2000 = 3000, from 2 accounts
    assert arr_at_risk(accounts, TODAY) == (3000, 2)
    assert arr_at_risk([RiskInput("green", D("2026-12-01"), 5)], TODAY) == (0.0, 0)
    assert arr_at_risk([], TODAY) == (None, 0)


def test_period_bounds() -> None:
    # 90 days ending today, both ends included: Aug 26 .. Nov 23 (6 + 30 + 31 + 23 = 90 days)
    assert period_bounds("90d", TODAY) == (D("2026-08-26"), TODAY)
    assert period_bounds("year", TODAY) == (D("2025-11-24"), TODAY)
    # "quarter" is the last full calendar quarter: Q3 seen from Nov 23, Q4 of last year in January
    assert period_bounds("quarter", TODAY) == (D("2026-07-01"), D("2026-09-30"))
    assert period_bounds("quarter", D("2026-01-05")) == (D("2025-10-01"), D("2025-12-31"))
    assert period_bounds("quarter", D("2026-04-01")) == (D("2026-01-01"), D("2026-03-31"))
    with pytest.raises(ValueError, match="unknown period"):
        period_bounds("week", TODAY)


def test_arr_in_force_is_the_latest_row_on_or_before_the_day() -> None:
    account = AccountArr(
        "a",
        D("2026-01-01"),
        history=((D("2026-02-01"), 100.0), (D("2026-06-01"), 150.0)),
        current_arr=999.0,
    )
    assert account.arr_on(D("2025-12-31")) is None  # before the contract
    assert account.arr_on(D("2026-01-15")) == 100.0  # history starts later: its first value
    assert account.arr_on(D("2026-05-31")) == 100.0
    assert account.arr_on(D("2026-06-01")) == 150.0
    no_history = AccountArr("b", D("2026-01-01"), current_arr=70.0)
    assert no_history.arr_on(D("2026-03-01")) == 70.0


def test_revenue_movements_over_a_period_by_hand() -> None:
    start, end = D("2026-08-26"), TODAY
    book = [
        # expands 100 -> 120: +20 expansion
        AccountArr(
            "grows", D("2025-01-10"), history=((D("2025-01-10"), 100.0), (D("2026-10-01"), 120.0))
        ),
        # shrinks 50 -> 40: 10 contraction
        AccountArr(
            "shrinks", D("2025-06-01"), history=((D("2025-06-01"), 50.0), (D("2026-09-15"), 40.0))
        ),
        # churns on the first day of the period: lost inside it, 30 churned
        AccountArr("lost", D("2024-03-01"), D("2026-08-26"), ((D("2024-03-01"), 30.0),)),
        # churned the day before: not in the base at all
        AccountArr("gone", D("2024-03-01"), D("2026-08-25"), ((D("2024-03-01"), 500.0),)),
        # contract starts on the period's first day: new business, outside the base
        AccountArr("new", D("2026-08-26"), history=((D("2026-08-26"), 25.0),)),
        # no history: its current ARR stands for the whole period, no movement
        AccountArr("flat", D("2023-05-01"), current_arr=20.0),
    ]
    moved = revenue_movements(book, start, end)
    # base: grows 100 + shrinks 50 + lost 30 + flat 20 = 200, 4 accounts
    assert (moved.accounts_at_start, moved.starting_arr) == (4, 200)
    assert (moved.expansion, moved.contraction, moved.churned) == (20, 10, 30)
    assert (moved.accounts_lost, moved.new_accounts, moved.new_business) == (1, 1, 25)
    # NRR = (200 + 20 - 10 - 30) / 200 = 0.9; GRR = (200 - 10 - 30) / 200 = 0.8
    # logo churn = 1 / 4 = 0.25; revenue churn = (30 + 10) / 200 = 0.2
    assert moved.nrr == pytest.approx(0.9)
    assert moved.grr == pytest.approx(0.8)
    assert moved.logo_churn == pytest.approx(0.25)
    assert moved.revenue_churn == pytest.approx(0.2)


def test_all_churned_and_empty_books() -> None:
    start, end = D("2026-08-26"), TODAY
    book = [
        AccountArr("x", D("2025-01-01"), D("2026-09-01"), ((D("2025-01-01"), 300.0),)),
        AccountArr("y", D("2025-01-01"), D("2026-11-23"), ((D("2025-01-01"), 100.0),)),
    ]
    moved = revenue_movements(book, start, end)
    # 400 starting, 400 churned: NRR = GRR = 0, logo and revenue churn = 100%
    assert moved.nrr == 0 and moved.grr == 0
    assert moved.logo_churn == 1.0 and moved.revenue_churn == 1.0
    empty = revenue_movements([], start, end)
    assert (empty.nrr, empty.grr, empty.logo_churn, empty.revenue_churn) == (None,) * 4
    # customers at the start whose ARR is zero: a logo count but no revenue base
    free = revenue_movements([AccountArr("f", D("2025-01-01"), current_arr=0.0)], start, end)
    assert free.accounts_at_start == 1 and free.logo_churn == 0
    assert free.nrr is None and free.grr is None and free.revenue_churn is None


DAYS = st.dates(min_value=D("2023-01-01"), max_value=D("2026-12-31"))


@st.composite
def accounts(draw: st.DrawFn) -> AccountArr:
    start = draw(DAYS)
    values = draw(st.lists(st.integers(0, 500_000), min_size=0, max_size=4))
    days = sorted(draw(st.lists(DAYS, min_size=len(values), max_size=len(values), unique=True)))
    churned = draw(st.none() | DAYS)
    return AccountArr(
        "x",
        start,
        churned,
        tuple(zip(days, map(float, values), strict=True)),
        current_arr=float(draw(st.integers(0, 100_000))),
    )


@given(st.lists(accounts(), max_size=12), DAYS, st.integers(0, 400))
def test_retention_invariants_hold_for_any_book(book, start, length) -> None:
    moved = revenue_movements(book, start, start + timedelta(days=length))
    assert moved.accounts_lost <= moved.accounts_at_start
    if moved.starting_arr == 0:
        assert moved.grr is None and moved.nrr is None and moved.revenue_churn is None
        return
    # GRR leaves expansion out, so it is at most NRR and at most 100%; what it misses is churn
    assert 0 <= moved.grr <= 1
    assert moved.grr <= moved.nrr + 1e-9
    assert moved.grr + moved.revenue_churn == pytest.approx(1.0)
    assert 0 <= moved.logo_churn <= 1


def test_an_account_without_a_known_start_is_live_but_outside_the_revenue_base() -> None:
    # No contract date and no ARR history: we cannot place it in a period's base, but today's
    # bands and ARR at risk must still see it (unless it churned or starts later).
    unknown = AccountArr("u", None, current_arr=5000.0)
    assert unknown.live_on(TODAY) and not unknown.customer_on(TODAY)
    assert revenue_movements([unknown], D("2026-08-26"), TODAY).accounts_at_start == 0
    assert not AccountArr("c", None, D("2026-11-01")).live_on(TODAY)
    assert not AccountArr("s", D("2026-12-01")).live_on(TODAY)
