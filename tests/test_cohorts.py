"""Cohort retention matrices (contract months and activity CSVs), and the `cohorts` command."""

from __future__ import annotations

from datetime import date
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csm_tui.cli import main
from csm_tui.commands.cohorts import read_activity
from csm_tui.domain.cohorts import (
    activity_cohorts,
    contract_cohorts,
    month_end,
    month_index,
    month_label,
)
from csm_tui.domain.metrics import AccountArr

D = date.fromisoformat
DATA = Path(__file__).parent / "data"
ACTIVITY = DATA / "activity.csv"


def cells(matrix) -> dict[str, list]:
    return {
        row.cohort: [None if c is None else round(c, 4) for c in row.cells] for row in matrix.rows
    }


def test_month_helpers() -> None:
    assert month_end(2026 * 12 + 1) == D("2026-02-28")
    assert month_end(2026 * 12 + 11) == D("2026-12-31")
    assert month_label(2026 * 12) == "2026-01"


def test_contract_cohorts_by_hand() -> None:
    book = [
        # July cohort: starting ARR 30 000 + 20 000 = 50 000
        AccountArr("h", D("2026-07-15"), D("2026-10-05"), ((D("2026-07-15"), 30000.0),)),
        AccountArr(
            "i",
            D("2026-07-02"),
            history=(
                (D("2026-07-02"), 20000.0),
                (D("2026-09-10"), 30000.0),  # expansion: not counted as kept revenue
                (D("2026-10-20"), 5000.0),  # contraction
            ),
        ),
        # September cohort
        AccountArr("d", D("2026-09-01"), history=((D("2026-09-01"), 25000.0),)),
        # churns in its first month: month 0 is still 100%, month 1 is 0
        AccountArr("q", D("2026-10-03"), D("2026-10-20"), ((D("2026-10-03"), 1000.0),)),
        # before `since` / after today / no contract date: in no cohort
        AccountArr("old", D("2025-01-10"), history=((D("2025-01-10"), 100.0),)),
        AccountArr("signed", D("2026-12-01"), current_arr=9.0),
        AccountArr("nodate", None, current_arr=9.0),
    ]
    logo, revenue = contract_cohorts(book, D("2026-11-23"), since=D("2025-12-01"))
    # Columns M0..M4 = Jul..Nov (today is in November); cells past November are None.
    # July: Aug end both kept (2/2); Sep end both (2/2); Oct end h churned (1/2); Nov same.
    # Sep: kept through Nov (M0..M2), Dec and Jan not reached. Oct: churned before Nov ends.
    assert cells(logo) == {
        "2026-07": [1.0, 1.0, 1.0, 0.5, 0.5],
        "2026-09": [1.0, 1.0, 1.0, None, None],
        "2026-10": [1.0, 0.0, None, None, None],
    }
    # July revenue: Aug 30 000 + 20 000 = 50 000 -> 1.0; Sep i is 30 000 but only its
    # starting 20 000 counts -> 1.0; Oct h gone, i at 5 000 -> 5 000 / 50 000 = 0.1; Nov same.
    assert cells(revenue) == {
        "2026-07": [1.0, 1.0, 1.0, 0.1, 0.1],
        "2026-09": [1.0, 1.0, 1.0, None, None],
        "2026-10": [1.0, 0.0, None, None, None],
    }
    july = revenue.rows[0]
    assert (july.size, july.starting_arr) == (2, 50000.0)
    assert revenue.to_json()[0] == {
        "cohort": "2026-07",
        "size": 2,
        "cells": [1.0, 1.0, 1.0, 0.1, 0.1],
        "starting_arr": 50000.0,
    }


def test_a_cohort_without_starting_arr_has_no_revenue_share() -> None:
    logo, revenue = contract_cohorts(
        [AccountArr("f", D("2026-10-01"), current_arr=0.0)], D("2026-11-23")
    )
    assert cells(logo) == {"2026-10": [1.0, 1.0]}
    assert cells(revenue) == {"2026-10": [None, None]}
    assert contract_cohorts([], D("2026-11-23"))[0].rows == ()


def test_activity_cohorts_from_the_hand_made_csv() -> None:
    matrix = activity_cohorts(read_activity(ACTIVITY, "user", "day"))
    # tests/data/activity.csv, by first month (the row without a user is skipped):
    #   2026-01: u1 (Jan, Feb, Apr), u2 (Jan, Mar), u3 (Jan)  -> size 3
    #   2026-02: u4 (Feb, Mar), u5 (Feb)                       -> size 2
    #   2026-04: u6 (Apr)                                      -> size 1
    # Last month in the data is April, so columns M0..M3 (Jan..Apr).
    #   2026-01: Jan 3/3, Feb u1 1/3, Mar u2 1/3, Apr u1 1/3
    #   2026-02: Feb 2/2, Mar u4 1/2, Apr nobody 0/2 (a real 0), May not in the data (None)
    #   2026-04: Apr 1/1, then None
    third = round(1 / 3, 4)
    assert cells(matrix) == {
        "2026-01": [1.0, third, third, third],
        "2026-02": [1.0, 0.5, 0.0, None],
        "2026-04": [1.0, None, None, None],
    }
    assert [row.size for row in matrix.rows] == [3, 2, 1]
    counts = activity_cohorts(read_activity(ACTIVITY, "user", "day"), counts=True)
    assert cells(counts) == {
        "2026-01": [3, 1, 1, 1],
        "2026-02": [2, 1, 0, None],
        "2026-04": [1, None, None, None],
    }


def test_activity_cohorts_with_an_explicit_end_and_no_rows() -> None:
    rows = [("a", D("2026-01-10")), ("a", D("2026-02-01"))]
    matrix = activity_cohorts(rows, through=D("2026-03-31"))
    # March is inside the window and a was not active: 0, not None
    assert cells(matrix) == {"2026-01": [1.0, 1.0, 0.0]}
    assert activity_cohorts([]).rows == ()


def test_cohorts_command_prints_the_matrix(capsys) -> None:
    code = main(["cohorts", "--csv", str(ACTIVITY), "--id-column", "user", "--date-column", "day"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("cohort"))
    assert header.split() == ["cohort", "size", "M0", "M1", "M2", "M3"]
    assert next(line for line in lines if line.startswith("2026-01")).split() == [
        "2026-01",
        "3",
        "100%",
        "33%",
        "33%",
        "33%",
    ]
    # Future cells are blank, a real zero is printed
    assert next(line for line in lines if line.startswith("2026-02")).split() == [
        "2026-02",
        "2",
        "100%",
        "50%",
        "0%",
    ]


def test_cohorts_command_counts_and_date_format(capsys) -> None:
    args = ["cohorts", "--csv", str(DATA / "activity_day_first.csv")]
    args += ["--id-column", "customer", "--date-column", "seen", "--date-format", "%d/%m/%Y"]
    assert main([*args, "--counts"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # c1 and c2 first seen in January, c1 again in February; c3 first seen in February
    assert next(line for line in lines if line.startswith("2026-01")).split() == [
        "2026-01",
        "2",
        "2",
        "1",
    ]
    assert next(line for line in lines if line.startswith("2026-02")).split() == [
        "2026-02",
        "1",
        "1",
    ]


def run_cohorts(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["cohorts", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_missing_file_is_one_line_exit_2(capsys, tmp_path) -> None:
    missing = tmp_path / "nope.csv"
    code, out, err = run_cohorts(
        capsys, "--csv", str(missing), "--id-column", "user", "--date-column", "day"
    )
    assert code == 2
    assert err.strip() == f"csm-tui: CSV file not found: {missing}"
    assert out == ""


def test_missing_column_names_the_columns_that_exist(capsys) -> None:
    code, _, err = run_cohorts(
        capsys, "--csv", str(ACTIVITY), "--id-column", "user_id", "--date-column", "day"
    )
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "no column 'user_id' (--id-column)" in err
    assert "the columns are: 'user', 'day', 'event'" in err


def test_unparseable_date_names_the_line_and_the_value(capsys) -> None:
    bad = DATA / "activity_bad_date.csv"
    code, _, err = run_cohorts(
        capsys, "--csv", str(bad), "--id-column", "user", "--date-column", "day"
    )
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    # header is line 1, so the fourth line holds 'last tuesday'
    assert f"{bad} line 4: cannot read date 'last tuesday' in column 'day'" in err
    assert "--date-format" in err


def test_a_wrong_date_format_is_reported_too(capsys) -> None:
    code, _, err = run_cohorts(
        capsys,
        "--csv",
        str(ACTIVITY),
        "--id-column",
        "user",
        "--date-column",
        "day",
        "--date-format",
        "%d/%m/%Y",
    )
    assert code == 2
    assert "line 2: cannot read date '2026-01-05'" in err and "'%d/%m/%Y'" in err


def test_empty_and_binary_files(capsys, tmp_path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code, _, err = run_cohorts(
        capsys, "--csv", str(empty), "--id-column", "a", "--date-column", "b"
    )
    assert code == 2 and "empty" in err
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"user,day\n\xff\xfe\x00x,2026\n")
    code, _, err = run_cohorts(
        capsys, "--csv", str(binary), "--id-column", "user", "--date-column", "day"
    )
    assert code == 2 and "UTF-8" in err
    header_only = tmp_path / "header.csv"
    header_only.write_text("user,day\n")
    code, _, err = run_cohorts(
        capsys, "--csv", str(header_only), "--id-column", "user", "--date-column", "day"
    )
    assert code == 2 and "no rows" in err


@st.composite
def book_accounts(draw: st.DrawFn) -> AccountArr:
    start = draw(st.dates(min_value=D("2024-06-01"), max_value=D("2026-12-31")))
    values = draw(st.lists(st.integers(0, 90_000), max_size=3))
    days = sorted(
        draw(
            st.lists(
                st.dates(min_value=start, max_value=D("2027-01-31")),
                min_size=len(values),
                max_size=len(values),
                unique=True,
            )
        )
    )
    churned = draw(st.none() | st.dates(min_value=start, max_value=D("2027-01-31")))
    return AccountArr("x", start, churned, tuple(zip(days, map(float, values), strict=True)))


@given(st.lists(book_accounts(), max_size=15))
def test_cohort_cells_are_shares_that_only_fall_and_stop_at_today(book) -> None:
    today = D("2026-11-23")
    logo, revenue = contract_cohorts(book, today)
    for row in logo.rows:
        reached = [c for c in row.cells if c is not None]
        assert row.cells[0] == 1.0
        # None only for months after today's, and all of them
        assert row.cells[: len(reached)] == tuple(reached)
        assert len(reached) == month_index(today) - month_index(D(f"{row.cohort}-01")) + 1
        # a lost logo stays lost: the share never rises
        assert all(a >= b for a, b in pairwise(reached))
    for row in revenue.rows:
        assert all(0 <= c <= 1 for c in row.cells if c is not None)


def test_iso_dates_and_datetimes_are_read_by_default() -> None:
    from csm_tui.commands.cohorts import parse_activity_date

    for text in (
        "2026-03-01",
        "2026-03-01T23:10:00Z",
        "2026-03-01 08:30",
        "2026-03-01T10:00:00.123456789+00:00",
    ):
        assert parse_activity_date(text, None) == D("2026-03-01"), text
    assert parse_activity_date("01/03/2026", "%d/%m/%Y") == D("2026-03-01")
    for bad in ("2026-13-01", "03/01/2026", "", "2026-03-01Tnonsense"):
        with pytest.raises(ValueError):
            parse_activity_date(bad, None)
