"""Does the score predict: the AUC, its interval, band rates and outcomes, checked independently.

The AUC is computed from ranks; these tests count every (stayer, leaver) pair by brute force
(the Mann-Whitney U statistic, a tie counting half) and compare.
"""

from __future__ import annotations

import random
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csm_tui.domain.metrics import AccountArr
from csm_tui.domain.score_check import (
    CHURNED,
    CONTRACTED,
    FLAT,
    GREW,
    MIN_EACH,
    Observation,
    account_outcome,
    band_rates,
    midranks,
    score_check,
    separation,
)

D = date.fromisoformat
TODAY = D("2026-11-23")
SINCE = D("2025-11-23")


def pairs_auc(stayers: list[float], leavers: list[float]) -> float:
    """Mann-Whitney U / (m n), by counting every pair."""
    u = 0.0
    for s in stayers:
        for x in leavers:
            u += 1.0 if s > x else 0.5 if s == x else 0.0
    return u / (len(stayers) * len(leavers))


def test_auc_by_hand() -> None:
    # stayers 80, 60, 40; leavers 50, 40, 10. Pairs won by a stayer:
    # 80: beats 50, 40, 10 -> 3; 60: 50, 40, 10 -> 3; 40: ties 40 (0.5), beats 10 -> 1.5
    # U = 7.5 of 9 pairs = 0.8333...
    s = separation([80, 60, 40], [50, 40, 10])
    assert s.auc == pytest.approx(7.5 / 9)
    assert s.stayers == 3 and s.leavers == 3
    assert s.low is not None and s.high is not None and s.low < s.auc < s.high
    assert not s.enough  # three of each is too few to tell


@given(
    st.lists(st.integers(0, 100), min_size=1, max_size=40),
    st.lists(st.integers(0, 100), min_size=1, max_size=40),
)
def test_auc_equals_the_pairwise_mann_whitney_statistic(stay: list[int], leave: list[int]) -> None:
    s = separation([float(v) for v in stay], [float(v) for v in leave])
    assert s.auc == pytest.approx(pairs_auc([float(v) for v in stay], [float(v) for v in leave]))
    assert s.low is not None and s.high is not None
    assert 0.0 <= s.low <= s.auc <= s.high <= 1.0


def test_perfect_and_reversed_separation() -> None:
    assert separation([90, 80, 70], [10, 20]).auc == 1.0
    assert separation([10, 20], [90, 80, 70]).auc == 0.0
    assert separation([50, 50], [50]).auc == 0.5  # all ties: a coin toss


def test_delong_interval_matches_the_pairwise_variance() -> None:
    # DeLong's variance from its definition (per-observation placements, counted pair by pair).
    rng = random.Random(3)
    stay = [rng.gauss(60, 15) for _ in range(40)]
    leave = [rng.gauss(48, 15) for _ in range(25)]
    stay += [50.0, 50.0]
    leave += [50.0]
    m, n = len(stay), len(leave)

    def psi(a: float, b: float) -> float:
        return 1.0 if a > b else 0.5 if a == b else 0.0

    v10 = [sum(psi(s, x) for x in leave) / n for s in stay]
    v01 = [sum(psi(s, x) for s in stay) / m for x in leave]
    auc = sum(v10) / m

    def var(v: list[float]) -> float:
        mean = sum(v) / len(v)
        return sum((e - mean) ** 2 for e in v) / (len(v) - 1)

    se = (var(v10) / m + var(v01) / n) ** 0.5
    got = separation(stay, leave)
    assert got.auc == pytest.approx(auc)
    assert got.low == pytest.approx(max(0.0, auc - 1.959964 * se))
    assert got.high == pytest.approx(min(1.0, auc + 1.959964 * se))


def test_without_a_leaver_or_a_stayer_there_is_no_auc() -> None:
    s = separation([80, 70], [])
    assert s.auc is None and s.low is None and s.leavers == 0 and s.stayers == 2


def test_midranks_share_tied_ranks() -> None:
    assert midranks([30, 10, 20, 10]) == [4.0, 1.5, 3.0, 1.5]


def test_band_rates_count_leavers_per_band() -> None:
    obs = [
        Observation(True, 20, "red"),
        Observation(True, 30, "red"),
        Observation(False, 35, "red"),
        Observation(False, 55, "yellow"),
        Observation(True, 60, "yellow"),
        Observation(False, 80, "green"),
        Observation(False, 90, None),  # no band: left out
    ]
    rates = {b.band: b for b in band_rates(obs)}
    assert (rates["red"].accounts, rates["red"].leavers) == (3, 2)
    assert rates["red"].rate == pytest.approx(2 / 3)
    assert rates["yellow"].rate == pytest.approx(0.5)
    assert (rates["green"].accounts, rates["green"].leavers, rates["green"].rate) == (1, 0, 0.0)


def test_components_are_checked_alone_and_strongest_first() -> None:
    rng = random.Random(5)
    obs = []
    for i in range(60):
        left = i % 3 == 0
        obs.append(
            Observation(
                left,
                rng.uniform(0, 100),
                components={
                    # usage carries the signal; support is noise; sentiment is missing for some
                    "usage": (20.0 if left else 70.0) + rng.uniform(-30, 30),
                    "support": rng.uniform(0, 100),
                    "sentiment": None if i % 2 else rng.uniform(0, 100),
                },
            )
        )
    check = score_check(obs)
    assert check.components[0].component == "usage"
    by_name = {c.component: c.separation for c in check.components}
    assert by_name["sentiment"].leavers + by_name["sentiment"].stayers == 30
    assert "adoption" not in by_name  # no data at all: not checked
    assert (by_name["usage"].auc or 0) > 0.8


def test_too_few_outcomes_is_said_plainly() -> None:
    obs = [Observation(i < MIN_EACH - 1, float(i)) for i in range(40)]
    check = score_check(obs)
    assert not check.enough
    assert check.verdict().startswith("Too few outcomes to tell: 9 left and 31 stayed")
    enough = score_check([Observation(i < MIN_EACH, float(i)) for i in range(40)])
    assert enough.enough
    # here the leavers have the lowest scores: a perfect separation
    assert enough.overall.auc == 1.0 and "strongly separates" in enough.verdict()
    data = enough.to_json()
    assert data["auc"] == 1.0 and data["leavers"] == MIN_EACH and data["enough"] is True


# -- outcomes ---------------------------------------------------------------------------------


def account(
    history: list[tuple[str, float]], start: str = "2023-03-01", **kw: object
) -> AccountArr:
    return AccountArr(
        "a1",
        D(start),
        history=tuple((D(d), v) for d, v in history),
        **kw,  # type: ignore[arg-type]
    )


def test_a_churn_in_the_period_is_the_outcome() -> None:
    a = account([("2023-03-01", 10_000)], churned_on=D("2026-06-10"))
    got = account_outcome(a, D("2026-06-10"), SINCE, TODAY)
    assert got is not None and (got.day, got.kind, got.left) == (D("2026-06-10"), CHURNED, True)
    # churned before the period: nothing to check
    assert account_outcome(a, None, D("2026-07-01"), TODAY) is None


def test_renewals_are_read_from_the_arr_history() -> None:
    # Next renewal 2027-03-01: the last one passed on 2026-03-01.
    down = account([("2023-03-01", 10_000), ("2026-03-01", 8_000)])
    got = account_outcome(down, D("2027-03-01"), SINCE, TODAY)
    assert got is not None and (got.day, got.kind, got.left) == (D("2026-03-01"), CONTRACTED, True)
    up = account([("2023-03-01", 10_000), ("2026-03-05", 12_000)])  # recorded 4 days late
    got = account_outcome(up, D("2027-03-01"), SINCE, TODAY)
    assert got is not None and (got.kind, got.left) == (GREW, False)
    flat = account([("2023-03-01", 10_000), ("2024-03-01", 12_000)])
    got = account_outcome(flat, D("2027-03-01"), SINCE, TODAY)
    assert got is not None and (got.kind, got.left) == (FLAT, False)


def test_no_renewal_in_the_period_no_outcome() -> None:
    a = account([("2025-03-01", 10_000)], start="2025-03-01")
    # the first renewal (2026-03-01) has not been looked at since 2026-04-01
    assert account_outcome(a, D("2027-03-01"), D("2026-04-01"), TODAY) is None
    # a contract not a year old has had no renewal
    young = account([("2026-05-01", 10_000)], start="2026-05-01")
    assert account_outcome(young, D("2027-05-01"), SINCE, TODAY) is None


def test_without_a_renewal_date_the_contract_anniversary_counts() -> None:
    a = account([("2023-03-01", 10_000), ("2026-03-01", 9_000)])
    got = account_outcome(a, None, SINCE, TODAY)
    assert got is not None and (got.day, got.kind) == (D("2026-03-01"), CONTRACTED)


def test_a_stale_renewal_date_counts_its_latest_anniversary() -> None:
    # The CRM still says 2024-03-01; the renewals of 2025 and 2026 passed since.
    a = account([("2023-03-01", 10_000), ("2026-03-01", 11_000)])
    got = account_outcome(a, D("2024-03-01"), SINCE, TODAY)
    assert got is not None and (got.day, got.kind) == (D("2026-03-01"), GREW)


def test_a_renewal_of_the_last_30_days_waits_for_its_new_arr() -> None:
    # Renewed 2026-11-13 (10 days before TODAY), its new ARR not recorded yet: not called flat;
    # the renewal a year before counts instead.
    a = account([("2023-11-13", 10_000), ("2025-11-13", 12_000)], start="2023-11-13")
    got = account_outcome(a, D("2027-11-13"), D("2025-01-01"), TODAY)
    assert got is not None and (got.day, got.kind) == (D("2025-11-13"), GREW)
