"""`csm-tui cohorts`: the logo cohort retention matrix of any CSV of activity rows.

Also home of the matrix's text table, which `csm-tui portfolio` prints too.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

from csm_tui.commands.csv_input import csv_rows, sample
from csm_tui.config import Settings
from csm_tui.domain.cohorts import Cell, CohortMatrix, activity_cohorts
from csm_tui.errors import CsmError

ISO_DATETIME_START = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


class CohortInputError(CsmError):
    """The CSV cannot be read as activity rows; one line says where and why."""

    exit_code = 2


def _cell_text(cell: Cell, counts: bool) -> str:
    if cell is None:
        return ""
    if counts:
        return f"{int(cell):,}"
    return f"{cell * 100:.0f}%"


def matrix_lines(matrix: CohortMatrix, *, size_label: str = "size") -> list[str]:
    """The matrix as a plain text table: one line per cohort, columns M0, M1, ...; blanks = future."""
    width = matrix.width
    texts = [[_cell_text(cell, matrix.counts) for cell in row.cells] for row in matrix.rows]
    sizes = [f"{row.size:,}" for row in matrix.rows]
    size_w = max([len(size_label), *map(len, sizes)])
    col_w = max([4, *(len(f"M{k}") for k in range(width)), *(len(t) for r in texts for t in r)])
    header = f"{'cohort':<7}  {size_label:>{size_w}}  " + " ".join(
        f"{f'M{k}':>{col_w}}" for k in range(width)
    )
    lines = [header.rstrip()]
    for row, size, cells in zip(matrix.rows, sizes, texts, strict=True):
        line = f"{row.cohort:<7}  {size:>{size_w}}  " + " ".join(f"{t:>{col_w}}" for t in cells)
        lines.append(line.rstrip())
    return lines


def parse_activity_date(text: str, date_format: str | None) -> date:
    """A CSV date: ISO date or datetime by default, else the strptime ``date_format``."""
    text = text.strip()
    if date_format:
        return datetime.strptime(text, date_format).date()
    try:
        return datetime.fromisoformat(text).date()  # 3.11: dates, datetimes, "Z", a space for T
    except ValueError:
        # ISO datetimes Python does not read (nanoseconds, odd zones) still start with the day.
        if ISO_DATETIME_START.match(text):
            return date.fromisoformat(text[:10])
        raise


def read_activity(
    path: Path, id_column: str, date_column: str, date_format: str | None = None
) -> Iterator[tuple[str, date]]:
    """Yield ``(id, day)`` per CSV row; raise CohortInputError naming the line of a bad value.

    Rows with an empty id are skipped (an anonymous event belongs to no cohort).
    """
    required = ((id_column, "--id-column"), (date_column, "--date-column"))
    for line, row in csv_rows(path, required, CohortInputError):
        key = (row.get(id_column) or "").strip()
        raw = row.get(date_column) or ""
        if not key:
            continue
        try:
            day = parse_activity_date(raw, date_format)
        except ValueError:
            expected = (
                f"format {date_format!r}"
                if date_format
                else "an ISO date like 2026-03-01 (or use --date-format)"
            )
            raise CohortInputError(
                f"{path} line {line}: cannot read date {sample(raw)} in "
                f"column {date_column!r}, expected {expected}"
            ) from None
        yield key, day


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Print the logo retention matrix (shares, or counts with --counts)."""
    path = Path(args.csv).expanduser()
    rows = read_activity(path, args.id_column, args.date_column, args.date_format)
    matrix = activity_cohorts(rows, counts=args.counts)
    if not matrix.rows:
        raise CohortInputError(f"{path}: no rows with an id and a date")
    what = "active members" if args.counts else "share of each cohort active"
    print(
        f"Cohort = month of first activity; M<k> = {what} in month k (blank: after the data ends)"
    )
    print("\n".join(matrix_lines(matrix)))
    return 0
