"""The portfolio report on a small hand-made cache, and `csm-tui portfolio` in text and JSON.

The book, seen on 2026-11-23 ("90d" = 2026-08-26 .. 2026-11-23, opening state = end of Aug 25):

    id  contract    ARR history                        churned     renewal     health
    a1  2025-01-10  100k, 120k from 2026-10-01         -           2027-01-15  80 green
    b2  2025-06-01  50k, 40k from 2026-09-15           -           2026-12-20  30 red
    c3  2024-03-01  30k                                2026-10-10  2026-12-01  20 (churned)
    d4  2026-09-01  25k                                -           2027-09-01  55 yellow
    e5  2023-05-01  (no history; accounts.arr 20k)     -           2027-03-30  35 red
    f6  archived: everything about it is left out (huge ARR, red, renewing soon)
    g7  2024-01-01  15k                                2026-05-01  -           -
    h8  2026-07-15  30k                                2026-10-05  -           -
    i9  2026-07-02  20k, 30k from 09-10, 5k from 10-20 -           -           -
"""

from __future__ import annotations

import argparse
import json
from datetime import date

import pytest
import sqlite_utils

from csm_tui.cli import main
from csm_tui.commands import portfolio as portfolio_command
from csm_tui.config import Settings
from csm_tui.store.portfolio import portfolio_report

TODAY = date(2026, 11, 23)
T = "2026-11-01T00:00:00+00:00"


def account(id_: str, start: str, arr: float, renewal: str | None = None, **extra) -> dict:
    return {
        "id": id_,
        "name": f"Account {id_}",
        "domain": f"{id_}.example",
        "arr": arr,
        "contract_start": start,
        "renewal_date": renewal,
        "updated_at": T,
        "churned_on": None,
        "archived": 0,
        **extra,
    }


@pytest.fixture
def book(db: sqlite_utils.Database) -> sqlite_utils.Database:
    db["accounts"].insert_all(
        [
            account("a1", "2025-01-10", 120000, "2027-01-15"),
            account("b2", "2025-06-01", 40000, "2026-12-20"),
            account("c3", "2024-03-01", 30000, "2026-12-01", churned_on="2026-10-10"),
            account("d4", "2026-09-01", 25000, "2027-09-01"),
            account("e5", "2023-05-01", 20000, "2027-03-30"),
            account("f6", "2024-01-01", 999999, "2026-12-01", archived=1),
            account("g7", "2024-01-01", 15000, None, churned_on="2026-05-01"),
            account("h8", "2026-07-15", 30000, None, churned_on="2026-10-05"),
            account("i9", "2026-07-02", 5000, None),
        ]
    )
    db["arr_history"].insert_all(
        {"account_id": a, "date": d, "arr": v}
        for a, d, v in [
            ("a1", "2025-01-10", 100000),
            ("a1", "2026-10-01", 120000),
            ("b2", "2025-06-01", 50000),
            ("b2", "2026-09-15", 40000),
            ("c3", "2024-03-01", 30000),
            ("d4", "2026-09-01T09:00:00+00:00", 25000),  # an instant reads as its day
            ("f6", "2024-01-01", 999999),
            ("f6", "2026-10-01", 1),
            ("g7", "2024-01-01", 15000),
            ("h8", "2026-07-15", 30000),
            ("i9", "2026-07-02", 20000),
            ("i9", "2026-09-10", 30000),
            ("i9", "2026-10-20", 5000),
        ]
    )
    surveys = [
        # kind, account, score, submitted_at, archived
        ("nps", "a1", 10, "2026-11-23T18:00:00+00:00", 0),  # last day of the period: in
        ("nps", "a1", 9, "2026-09-01T10:00:00+00:00", 0),
        ("nps", "b2", 9, "2026-10-15T08:00:00+00:00", 0),
        ("nps", "h8", 7, "2026-09-20T08:00:00+00:00", 0),
        ("nps", "e5", 3, "2026-11-01T08:00:00+00:00", 0),
        ("nps", "c3", 0, "2026-08-25T23:59:59+00:00", 0),  # the day before: out
        ("nps", "a1", 0, "2026-11-24T00:00:01+00:00", 0),  # tomorrow: out
        ("nps", "f6", 0, "2026-10-01T08:00:00+00:00", 0),  # archived account: out
        ("nps", "a1", 0, "2026-10-01T08:00:00+00:00", 1),  # archived answer: out
        ("csat", "a1", 4, "2026-08-26", 0),  # first day, as a plain date: in
        ("csat", "b2", 5, "2026-09-30T23:00:00+00:00", 0),
        ("csat", "d4", 4, "2026-10-02T08:00:00+00:00", 0),
        ("csat", "e5", 2, "2026-11-20T08:00:00+00:00", 0),
        ("CSAT", "i9", 3, "2026-11-23T08:00:00+00:00", 0),
    ]
    db["survey_responses"].insert_all(
        {"id": f"s{n}", "kind": k, "account_id": a, "score": s, "submitted_at": at, "archived": x}
        for n, (k, a, s, at, x) in enumerate(surveys)
    )
    db["scores"].insert_all(
        {"account_id": a, "computed_at": T, "health": h, "band": None}
        for a, h in [("a1", 80), ("b2", 30), ("c3", 20), ("d4", 55), ("e5", 35), ("f6", 10)]
    )
    return db


def test_ninety_day_report_matches_the_hand_computation(book, settings: Settings) -> None:
    report = portfolio_report(book, settings, TODAY, "90d").to_json()
    # Base at the opening: a1 100k + b2 50k + c3 30k + e5 20k + h8 30k + i9 20k = 250k, 6 accounts
    # (d4 starts inside the period: new business; g7 churned before; f6 archived).
    # Expansion a1 +20k. Contraction b2 10k + i9 15k = 25k. Churned c3 30k + h8 30k = 60k.
    assert report["period_start"] == "2026-08-26" and report["period_end"] == "2026-11-23"
    assert report["starting_arr"] == 250000 and report["accounts_at_start"] == 6
    assert (report["expansion_arr"], report["contraction_arr"], report["churned_arr"]) == (
        20000,
        25000,
        60000,
    )
    assert (report["new_arr"], report["new_accounts"]) == (25000, 1)
    # NRR = (250k + 20k - 25k - 60k) / 250k = 185k / 250k = 0.74
    assert report["nrr"] == pytest.approx(0.74)
    # GRR = (250k - 25k - 60k) / 250k = 165k / 250k = 0.66
    assert report["grr"] == pytest.approx(0.66)
    # logo churn = 2 lost (c3, h8) / 6 = 0.3333
    assert report["accounts_lost"] == 2
    assert report["logo_churn"] == pytest.approx(2 / 6)
    # revenue churn = (60k + 25k) / 250k = 0.34
    assert report["revenue_churn"] == pytest.approx(0.34)
    # NPS answers in the period: 10, 9, 9, 7, 3 -> promoters 3, detractors 1: 100 * 2 / 5 = +40
    assert (report["nps"], report["nps_responses"]) == (pytest.approx(40.0), 5)
    # CSAT answers: 4, 5, 4, 2, 3 -> three of five are 4-5: 0.6
    assert (report["csat"], report["csat_responses"]) == (pytest.approx(0.6), 5)
    # Scored customers today: a1 80, b2 30, d4 55, e5 35 (c3 churned, f6 archived)
    # average 200 / 4 = 50; green 1, yellow 1, red 2
    assert report["avg_health"] == 50
    assert report["bands"] == {"green": 0.25, "yellow": 0.25, "red": 0.5}
    assert report["band_counts"] == {"green": 1, "yellow": 1, "red": 2}
    # Red and renewing by 2027-02-21: b2 (40k). e5 renews 2027-03-30: later.
    assert (report["arr_at_risk"], report["arr_at_risk_accounts"]) == (40000, 1)
    # 8 accounts cached (f6 archived); customers today: a1, b2, d4, e5, i9
    assert (report["accounts"], report["customers"]) == (8, 5)
    # Cohorts of the last 24 months (Dec 2024 .. Nov 2026): a1 (Jan 2025), b2 (Jun 2025),
    # July 2026 (h8 30k, i9 20k) and September 2026 (d4 25k); 23 columns, Jan 2025 .. Nov 2026.
    # a1 is kept all along, its raise to 120k is expansion, not counted: 100% everywhere.
    # b2 is kept (logo 100%) but at 40k from Sep 2026 (M15): 40k / 50k = 0.8.
    # July: h8 gone in October (M3) -> 1/2. Revenue: i9's 30k counts as its starting 20k;
    # from October only i9's 5k: 5k / 50k = 0.1. Months not reached yet are None.
    logo = {row["cohort"]: row["cells"] for row in report["cohorts"]["logo"]}
    revenue = {row["cohort"]: row for row in report["cohorts"]["revenue"]}
    assert list(logo) == ["2025-01", "2025-06", "2026-07", "2026-09"]
    assert logo["2025-01"] == [1.0] * 23
    assert logo["2025-06"] == [1.0] * 18 + [None] * 5
    assert logo["2026-07"] == [1.0, 1.0, 1.0, 0.5, 0.5] + [None] * 18
    assert logo["2026-09"] == [1.0, 1.0, 1.0] + [None] * 20
    assert revenue["2025-01"]["cells"] == [1.0] * 23
    assert revenue["2025-06"]["cells"] == pytest.approx([1.0] * 15 + [0.8] * 3 + [None] * 5)
    assert revenue["2026-07"]["cells"] == pytest.approx([1.0, 1.0, 1.0, 0.1, 0.1] + [None] * 18)
    assert revenue["2026-07"]["starting_arr"] == 50000
    assert revenue["2026-09"]["cells"] == [1.0, 1.0, 1.0] + [None] * 20
    # a shorter window keeps only the recent cohorts
    recent = portfolio_report(book, settings, TODAY, "90d", cohort_months=12)
    assert [row.cohort for row in recent.cohorts_logo.rows] == ["2026-07", "2026-09"]


def test_last_full_quarter(book, settings: Settings) -> None:
    report = portfolio_report(book, settings, TODAY, "quarter").to_json()
    # Q3 2026. Base at June 30: a1 100k, b2 50k, c3 30k, e5 20k = 200k (4 accounts).
    # By Sep 30: b2 down 10k; a1's raise (Oct 1) and c3's churn (Oct 10) come later.
    assert (report["period_start"], report["period_end"]) == ("2026-07-01", "2026-09-30")
    assert report["starting_arr"] == 200000 and report["accounts_at_start"] == 4
    # NRR = GRR = (200k - 10k) / 200k = 0.95; no logo lost; revenue churn 10k / 200k = 0.05
    assert report["nrr"] == pytest.approx(0.95) and report["grr"] == pytest.approx(0.95)
    assert report["logo_churn"] == 0 and report["revenue_churn"] == pytest.approx(0.05)
    # New business: h8 30k, i9 30k (at Sep 30), d4 25k = 85k from 3 accounts
    assert (report["new_arr"], report["new_accounts"]) == (85000, 3)
    # NPS in Q3: 9 (a1), 7 (h8), 0 (c3, Aug 25) -> (1 - 1) / 3 = 0. CSAT: 4, 5 -> 1.0
    assert (report["nps"], report["nps_responses"]) == (0, 3)
    assert report["csat"] == 1.0


def test_a_book_with_no_starting_revenue_or_answers_reports_none(db, settings) -> None:
    db["accounts"].insert(account("n1", "2026-11-01", 10000, "2026-12-01"))
    report = portfolio_report(db, settings, TODAY, "90d").to_json()
    for key in ("nrr", "grr", "logo_churn", "revenue_churn", "nps", "csat", "avg_health"):
        assert report[key] is None, key
    assert report["bands"] == {"green": None, "yellow": None, "red": None}
    assert report["arr_at_risk"] is None  # nothing scored: unknown, not zero


def test_the_bands_follow_the_configured_thresholds(book, monkeypatch) -> None:
    monkeypatch.setenv("CSM_TUI_SCORING__GREEN", "85")
    monkeypatch.setenv("CSM_TUI_SCORING__YELLOW", "30")
    from csm_tui.config import load_settings

    report = portfolio_report(book, load_settings(), TODAY, "90d")
    # 80 and 55 are yellow now, 30 and 35 too: red is only below 30
    assert report.band_counts == {"green": 0, "yellow": 4, "red": 0}
    assert report.arr_at_risk == 0.0


def run_portfolio(settings: Settings, capsys, *, json_out: bool, period: str = "90d") -> str:
    args = argparse.Namespace(json=json_out, period=period, workspace=None)
    assert portfolio_command.run(settings, args, today=TODAY) == 0
    return capsys.readouterr().out


def test_portfolio_json_has_the_agreed_keys(book, settings, capsys) -> None:
    data = json.loads(run_portfolio(settings, capsys, json_out=True))
    for key in (
        "nrr",
        "grr",
        "logo_churn",
        "revenue_churn",
        "nps",
        "csat",
        "bands",
        "arr_at_risk",
        "cohorts",
        "avg_health",
        "period_start",
        "period_end",
        "accounts",
    ):
        assert key in data, key
    assert data["nrr"] == pytest.approx(0.74)
    assert data["arr_at_risk"] == 40000
    assert data["cohorts"]["logo"][2]["cohort"] == "2026-07"


def test_portfolio_text_formats_percentages_and_bands(book, settings, capsys) -> None:
    out = run_portfolio(settings, capsys, json_out=False)
    lines = out.splitlines()
    line = {text.split()[0]: text for text in lines if text.startswith("  ")}
    assert "74.0%" in line["NRR"] and "66.0%" in line["GRR"]
    assert "34.0%" in line["Revenue"] and "33.3%" in out
    assert "+40" in line["NPS"] and "60.0%" in line["CSAT"]
    assert "● green 25.0% (1)" in out
    assert "◐ yellow 25.0% (1)" in out
    assert "○ red 50.0% (2)" in out
    assert "40,000" in line["ARR"]
    # the logo cohort table: July row, blanks for months not reached
    july = [text for text in lines if text.startswith("2026-07")]
    assert july[0].split() == ["2026-07", "2", "100%", "100%", "100%", "50%", "50%"]
    assert july[1].split() == ["2026-07", "2", "100%", "100%", "100%", "10%", "10%"]
    assert next(t for t in lines if t.startswith("2026-09")).split() == [
        "2026-09",
        "1",
        "100%",
        "100%",
        "100%",
    ]


def test_portfolio_text_says_n_a_when_a_metric_cannot_be_computed(db, settings, capsys) -> None:
    db["accounts"].insert(account("n1", "2026-11-01", 10000, "2026-12-01"))
    out = run_portfolio(settings, capsys, json_out=False)
    line = {text.split()[0]: text for text in out.splitlines() if text.startswith("  ")}
    for name in ("NRR", "GRR", "NPS", "CSAT", "Avg", "ARR"):
        assert "n/a" in line[name], name


def test_no_cache_says_to_sync_or_run_the_demo(capsys) -> None:
    assert main(["portfolio"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "`csm-tui sync`" in err and "`csm-tui demo`" in err


def test_an_empty_cache_says_the_same(db, capsys) -> None:
    assert main(["portfolio", "--json"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "No accounts in the cache of workspace 'default'" in err
