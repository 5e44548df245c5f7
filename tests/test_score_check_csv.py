"""`csm-tui score-check --csv`: a team's own score checked, its AUC the Mann-Whitney statistic."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from csm_tui.cli import main


def write_book(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text(
        "account,my_score,churned\n" + "".join(f"{a},{s},{o}\n" for a, s, o in rows),
        encoding="utf-8",
    )
    return path


def mann_whitney_auc(rows: list[tuple[float, bool]]) -> float:
    """U / (stayers * leavers), counting each (stayer, leaver) pair; a tie counts half."""
    stay = [s for s, left in rows if not left]
    leave = [s for s, left in rows if left]
    u = sum(1.0 if s > x else 0.5 if s == x else 0.0 for s in stay for x in leave)
    return u / (len(stay) * len(leave))


def test_csv_auc_equals_the_mann_whitney_statistic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(11)
    rows: list[tuple[float, bool]] = []
    raw: list[tuple[str, str, str]] = []
    for i in range(120):
        left = rng.random() < 0.3
        score = min(100, max(0, round(rng.gauss(45 if left else 60, 18))))  # ties aplenty
        rows.append((float(score), left))
        raw.append((f"acc{i}", str(score), rng.choice(["1", "true", "TRUE"]) if left else "0"))
    raw.append(("no-score", "", "1"))  # skipped, said
    csv_path = write_book(tmp_path / "book.csv", raw)
    code = main(
        ["score-check", "--csv", str(csv_path), "--score-column", "my_score",
         "--outcome-column", "churned", "--json"]
    )  # fmt: skip
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["auc"] == pytest.approx(mann_whitney_auc(rows))
    assert data["leavers"] == sum(1 for _, left in rows if left)
    assert data["stayers"] == sum(1 for _, left in rows if not left)
    assert data["skipped"] == 1 and data["rows"] == 120
    low, high = data["ci95"]
    assert 0 <= low < data["auc"] < high <= 1
    assert data["enough"] is True
    bands = {b["band"]: b for b in data["bands"]}
    red = [left for s, left in rows if s < 40]
    assert bands["red"]["accounts"] == len(red) and bands["red"]["leavers"] == sum(red)


def test_csv_text_says_too_few_outcomes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = write_book(
        tmp_path / "few.csv", [("a", "80", "0"), ("b", "30", "1"), ("c", "70", "false")]
    )
    code = main(
        ["score-check", "--csv", str(csv_path), "--score-column", "my_score",
         "--outcome-column", "churned"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "AUC         1.00" in out
    assert "Too few outcomes to tell: 1 left and 2 stayed" in out


@pytest.mark.parametrize(
    ("rows", "args", "message"),
    [
        ([("a", "high", "1")], (), "line 2: cannot read score 'high' in column 'my_score'"),
        ([("a", "50", "maybe")], (), "line 2: cannot read outcome 'maybe'"),
        ([("a", "50", "1")], ("--score-column", "nope"), "no column 'nope' (--score-column)"),
    ],
)
def test_bad_csv_input_is_one_clear_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    rows: list[tuple[str, str, str]],
    args: tuple[str, ...],
    message: str,
) -> None:
    csv_path = write_book(tmp_path / "bad.csv", rows)
    argv = ["score-check", "--csv", str(csv_path), "--score-column", "my_score"]
    argv += ["--outcome-column", "churned", *args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_csv_needs_both_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = write_book(tmp_path / "book.csv", [("a", "50", "1")])
    assert main(["score-check", "--csv", str(csv_path), "--score-column", "my_score"]) == 2
    assert "--csv needs --score-column S and --outcome-column O" in capsys.readouterr().err
