"""`csm-tui score-check`: does the health score predict who leaves? Over the cache, or any CSV.

Over the cache, each outcome (a churn, a renewal that contracted, stayed flat or grew) is scored
with the health ``--horizon`` days before it (csm_tui/store/score_check.py). With ``--csv``, any
score a team keeps elsewhere: one row per account, a score column and an outcome column (1 or
true: the account left; 0 or false: it stayed).
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import Any

from csm_tui.commands.csv_input import csv_rows, sample
from csm_tui.config import Settings
from csm_tui.domain.metrics import band_of
from csm_tui.domain.score_check import (
    CHURNED,
    CONTRACTED,
    FLAT,
    GREW,
    Observation,
    ScoreCheck,
    Separation,
    score_check,
)
from csm_tui.domain.vocabulary import BAND_SYMBOLS
from csm_tui.errors import CsmError

LEFT_VALUES = frozenset({"1", "true", "yes", "y", "t"})
STAYED_VALUES = frozenset({"0", "false", "no", "n", "f"})
KIND_WORDS = {
    CHURNED: "churned",
    CONTRACTED: "contracted",
    FLAT: "renewed flat",
    GREW: "grew",
}


class ScoreCheckInputError(CsmError):
    """The CSV cannot be read as scores and outcomes; one line says where and why."""

    exit_code = 2


class EmptyCacheError(CsmError):
    """There is nothing to check yet."""


def read_scores(
    path: Path, score_column: str, outcome_column: str
) -> tuple[list[tuple[float, bool]], int]:
    """(score, left) per CSV row, and the rows skipped for an empty score or outcome.

    Raises ScoreCheckInputError naming the line of a value that is neither empty nor readable.
    """
    rows: list[tuple[float, bool]] = []
    skipped = 0
    required = ((score_column, "--score-column"), (outcome_column, "--outcome-column"))
    for line, row in csv_rows(path, required, ScoreCheckInputError):
        raw_score = (row.get(score_column) or "").strip()
        raw_outcome = (row.get(outcome_column) or "").strip()
        if not raw_score or not raw_outcome:
            skipped += 1
            continue
        try:
            score = float(raw_score)
        except ValueError:
            score = float("nan")
        if score != score or score in (float("inf"), float("-inf")):
            raise ScoreCheckInputError(
                f"{path} line {line}: cannot read score {sample(raw_score)} "
                f"in column {score_column!r}, expected a number"
            )
        outcome = raw_outcome.lower()
        if outcome not in LEFT_VALUES and outcome not in STAYED_VALUES:
            raise ScoreCheckInputError(
                f"{path} line {line}: cannot read outcome "
                f"{sample(raw_outcome)} in column {outcome_column!r}, expected 1 or "
                "true (left) or 0 or false (stayed)"
            )
        rows.append((score, outcome in LEFT_VALUES))
    return rows, skipped


def check_csv(
    settings: Settings, path: Path, score_column: str, outcome_column: str
) -> tuple[ScoreCheck, int, bool]:
    """The check of a CSV's scores; rows skipped; whether bands apply (scores all 0-100)."""
    rows, skipped = read_scores(path, score_column, outcome_column)
    if not rows:
        raise ScoreCheckInputError(f"{path}: no rows with a score and an outcome")
    banded = all(0 <= score <= 100 for score, _ in rows)
    rules = settings.scoring
    observations = [
        Observation(
            left,
            score,
            band_of(score, rules.green, rules.yellow) if banded else None,
        )
        for score, left in rows
    ]
    return score_check(observations), skipped, banded


# -- text -------------------------------------------------------------------------------------


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def separation_text(s: Separation) -> str:
    """``0.72 [0.63–0.81]  38 left · 104 stayed`` (interval: 95%, DeLong)."""
    if s.auc is None:
        return f"n/a  {s.leavers} left · {s.stayers} stayed"
    return f"{s.auc:.2f} [{_ratio(s.low)}–{_ratio(s.high)}]  {s.leavers} left · {s.stayers} stayed"


def check_lines(check: ScoreCheck) -> list[str]:
    """The AUC, the verdict, the bands and the components as text lines."""
    lines = [
        f"  AUC         {separation_text(check.overall)}",
        "              (95% interval; 0.5 = chance, 1 = every stayer above every leaver)",
        f"  Verdict     {check.verdict()}",
    ]
    bands = [b for b in check.bands if b.accounts]
    if bands:
        lines.append("  Left by band")
        for b in check.bands:
            rate = "n/a" if b.rate is None else f"{b.rate * 100:.0f}%"
            lines.append(
                f"    {BAND_SYMBOLS.get(b.band, '?')} {b.band:<7} {rate:>5} left "
                f"({b.leavers} of {b.accounts})"
            )
    if check.components:
        lines.append("  Components  (each sub-score alone, strongest first)")
        for c in check.components:
            lines.append(f"    {c.component:<13} {separation_text(c.separation)}")
    return lines


def _kinds_text(kinds: dict[str, int]) -> str:
    return ", ".join(f"{n} {KIND_WORDS.get(kind, kind)}" for kind, n in kinds.items() if n)


def run(settings: Settings, args: argparse.Namespace, today: date | None = None) -> int:
    """Print the check (text, or JSON with --json); ``today`` defaults to the local day."""
    if args.csv is not None:
        return _run_csv(settings, args)
    if args.score_column or args.outcome_column:
        raise ScoreCheckInputError("--score-column and --outcome-column go with --csv FILE")
    from csm_tui.store.db import open_cache
    from csm_tui.store.score_check import check_cache

    hint = (
        f"No accounts in the cache of workspace {settings.workspace!r}: run `csm-tui sync`, "
        "or `csm-tui demo` and then `csm-tui score-check --workspace demo`."
    )
    if not settings.cache_path.exists():
        raise EmptyCacheError(hint)
    db = open_cache(settings.cache_path, create=False)
    try:
        if not db.execute("SELECT COUNT(*) FROM accounts WHERE archived = 0").fetchone()[0]:
            raise EmptyCacheError(hint)
        report = check_cache(db, settings, today or date.today(), horizon=args.horizon)
    finally:
        db.conn.close()
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
        return 0
    since = "no outcome can be scored yet" if report.since is None else f"since {report.since}"
    lines = [
        f"Does the health score predict? Workspace {settings.workspace!r}",
        f"  Outcomes {since}, each with the health {report.horizon} days before it",
        f"  Checked     {sum(report.kinds.values())}"
        + (f": {_kinds_text(report.kinds)}" if report.kinds else ""),
    ]
    if report.before_history:
        lines.append(
            f"              ({report.before_history} earlier left out: no usage cached before "
            "them; see analytics.weeks)"
        )
    lines += check_lines(report.check)
    print("\n".join(lines))
    return 0


def _run_csv(settings: Settings, args: argparse.Namespace) -> int:
    if not args.score_column or not args.outcome_column:
        raise ScoreCheckInputError("--csv needs --score-column S and --outcome-column O")
    path = Path(args.csv).expanduser()
    check, skipped, banded = check_csv(settings, path, args.score_column, args.outcome_column)
    if args.json:
        data: dict[str, Any] = {
            "source": "csv",
            "file": str(path),
            "rows": check.overall.leavers + check.overall.stayers,
            "skipped": skipped,
            **check.to_json(),
        }
        if not banded:
            data["bands"] = None
        print(json.dumps(data, indent=2))
        return 0
    lines = [
        f"Does {args.score_column!r} predict {args.outcome_column!r}? {path}",
        f"  Rows        {check.overall.leavers + check.overall.stayers}"
        + (f" ({skipped} without a score or outcome skipped)" if skipped else ""),
        *check_lines(check),
    ]
    if not banded:
        lines.append("  (no bands: the scores are not all within 0-100)")
    print("\n".join(lines))
    return 0
