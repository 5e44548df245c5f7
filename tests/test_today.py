"""`csm-tui today`: a readable table or JSON, segments, and one-line answers when it cannot."""

from __future__ import annotations

import csv
import io
import json

import pytest
import sqlite_utils
from support.cache_builder import TODAY, CacheBuilder

import csm_tui.commands.today as today_cmd
from csm_tui.cli import main
from csm_tui.config import Settings
from csm_tui.domain.spreadsheet import csv_text, spreadsheet_cell
from csm_tui.store.due import DUE_COLUMNS


@pytest.fixture(autouse=True)
def fixed_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(today_cmd, "local_today", lambda: TODAY)


def book(db: sqlite_utils.Database) -> None:
    cache = CacheBuilder(db)
    for i in range(5):
        cache.healthy(f"h{i}", arr=10_000 * (i + 1))
    cache.account("r1", name="Risky\x1b[31m Co\x07 [bold]x[/bold]", renews_in_days=23, arr=40_000)
    cache.usage("r1", scale={1: 0.2, 2: 0.2, 3: 0.3, 4: 0.3})
    cache.touch("r1", 31)
    cache.survey("r1", 3, 12)
    cache.contact("r1", "jane@risky.example.com", "admin", 14)
    db.conn.close()


def test_the_table_ranks_at_risk_first_with_chips_and_band_symbols(
    db: sqlite_utils.Database, capsys: pytest.CaptureFixture[str]
) -> None:
    book(db)  # never rescored: today scores what has no score yet
    assert main(["today"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    first = next(line for line in lines if line.strip().startswith("1 "))
    assert "Risky Co [bold]x[/bold]" in first and "○" in first  # shown as typed, never markup
    assert "Renews in 23 d" in first and "Health " in first
    assert "\x1b" not in out and "\x07" not in out
    assert "● green ≥ 70" in out


def test_json_has_the_documented_fields(
    db: sqlite_utils.Database, capsys: pytest.CaptureFixture[str]
) -> None:
    book(db)
    assert main(["today", "--json", "--limit", "2"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and rows[0]["rank"] == 1 and rows[0]["account_id"] == "r1"
    assert rows[0]["band"] == "red" and rows[0]["stage"] == "Renewal"
    assert rows[0]["stage_reason"] == "renews in 23 days"
    assert isinstance(rows[0]["opportunity"], bool) and rows[0]["reasons"]
    assert sum(d["points"] for d in rows[0]["drivers"]) == rows[0]["health"]


def test_a_segment_filters_and_an_unknown_one_lists_the_known_ones(
    db: sqlite_utils.Database, capsys: pytest.CaptureFixture[str]
) -> None:
    book(db)
    assert main(["today", "--json", "--segment", "renewals at risk"]) == 0
    assert [r["account_id"] for r in json.loads(capsys.readouterr().out)] == ["r1"]
    assert main(["today", "--segment", "Whales"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "Unknown segment 'Whales'" in err[0] and "Renewals at risk, Going dark" in err[0]


def test_an_empty_cache_says_to_sync_or_try_the_demo(
    settings: Settings, db: sqlite_utils.Database, capsys: pytest.CaptureFixture[str]
) -> None:
    db.conn.close()
    assert main(["today"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "csm-tui sync" in err[0] and "csm-tui demo" in err[0]


def test_no_cache_at_all_says_the_same(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["today"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "csm-tui sync" in err[0]


def test_csv_opens_in_a_spreadsheet_as_text_and_numbers_never_formulas(
    db: sqlite_utils.Database, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = CacheBuilder(db)
    cache.account("f1", name='=HYPERLINK("http://evil.example","x")', arr=40_000)
    cache.account("f2", name="@SUM(A1:A9)", arr=25_000)
    cache.account("f3", name="-2+3", arr=10_000)
    cache.step("f1", "+1 call the CFO", due_days_ago=3)
    db.conn.close()
    assert main(["today", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    names = {r["account_id"]: r["name"] for r in rows}
    assert names == {"f1": '\'=HYPERLINK("http://evil.example","x")', "f2": "'@SUM(A1:A9)",
                     "f3": "'-2+3"}  # fmt: skip
    arr = {r["account_id"]: r["arr"] for r in rows}
    assert float(arr["f1"]) == 40_000 and not arr["f1"].startswith("'")  # a number stays one
    assert main(["today", "--due", "--csv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == ",".join(DUE_COLUMNS)
    (step,) = list(csv.DictReader(io.StringIO(out)))
    assert step["title"] == "'+1 call the CFO" and step["days_late"] == "3"
    assert step["account"].startswith("'=HYPERLINK")


def test_spreadsheet_cells_escape_every_formula_start_and_keep_numbers() -> None:
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert spreadsheet_cell(f"{start}1") == f"'{start}1"
    assert spreadsheet_cell(-17) == -17 and spreadsheet_cell(1.5) == 1.5
    assert spreadsheet_cell(None) == "" and spreadsheet_cell(True) == 1
    assert spreadsheet_cell("Acme") == "Acme"
    text = csv_text([{"a": -3, "b": 'say "hi"'}], ("a", "b"), headers=("A", "B"))
    assert text == 'A,B\n-3,"say ""hi"""\n'
